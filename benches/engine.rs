//! Engine benchmark: index build time and memory, single-verdict latency and throughput,
//! and the full matrix for one port. Prints figures; run with `scripts/bench.sh`.
//!
//! Targets (10k pods, 2k policies): build <= 1 s, median verdict <= 1 us, matrix <= 5 s.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netpol_tui::cluster::synthetic::{generate, Shape};
use netpol_tui::policy::{Endpoint, EngineOptions, Flow, Index, Protocol};

mod common;

use common::{live, mib, Counting};

#[global_allocator]
static ALLOC: Counting = Counting;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn flows(index: &Index, n: usize, seed: u64) -> Vec<Flow> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let pods = index.inventory().pods.len() as u32;
    let ports = [53, 80, 443, 5432, 6379, 8000, 8080, 9000, 9090];
    (0..n)
        .map(|_| {
            let src = Endpoint::pod(rng.u32(..pods));
            let dst = if rng.u8(..10) == 0 {
                Endpoint::External(std::net::IpAddr::from([8, 8, rng.u8(..), rng.u8(..)]))
            } else {
                Endpoint::pod(rng.u32(..pods))
            };
            let protocol = if rng.u8(..8) == 0 {
                Protocol::Udp
            } else {
                Protocol::Tcp
            };
            Flow {
                src,
                dst,
                protocol,
                port: ports[rng.usize(..ports.len())],
            }
        })
        .collect()
}

/// Cluster-scoped tier policies as an administrator writes them: keep the metadata address
/// out, let monitoring scrape, pass team-to-team traffic to the teams' own policies, keep
/// dev out of prod, and a baseline default deny for ingress.
const TIERS: &str = r#"
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: no-cloud-metadata}
spec:
  priority: 10
  subject: {namespaces: {}}
  egress:
  - {name: metadata, action: Deny, to: [{networks: [169.254.169.254/32]}]}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: monitoring-scrapes}
spec:
  priority: 20
  subject: {namespaces: {}}
  ingress:
  - action: Allow
    from: [{namespaces: {matchLabels: {team: team-0}}}]
    ports: [{portNumber: {protocol: TCP, port: 9090}}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: dev-stays-out-of-prod}
spec:
  priority: 30
  subject: {namespaces: {matchLabels: {env: prod}}}
  ingress:
  - {action: Deny, from: [{namespaces: {matchLabels: {env: dev}}}]}
  - {action: Pass, from: [{namespaces: {}}]}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
  - {action: Allow, from: [{namespaces: {matchLabels: {team: team-1}}}]}
  - {action: Deny, from: [{namespaces: {}}]}
"#;

/// Cilium policies as a platform team writes them: no cloud metadata, DNS for everyone
/// without isolating, no world into prod, team-0 confined to the cluster.
const CILIUM: &str = r#"
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: no-cloud-metadata}
spec:
  endpointSelector: {}
  egressDeny:
  - toCIDR: [169.254.169.254/32]
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: dns}
spec:
  endpointSelector: {}
  enableDefaultDeny: {egress: false}
  egress:
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}}]
    toPorts: [{ports: [{port: "53", protocol: ANY}]}]
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: no-world-into-prod}
spec:
  endpointSelector: {matchLabels: {io.cilium.k8s.namespace.labels.env: prod}}
  enableDefaultDeny: {ingress: false}
  ingressDeny:
  - fromEntities: [world]
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: team-0-in-cluster}
spec:
  endpointSelector: {matchLabels: {io.cilium.k8s.namespace.labels.team: team-0}}
  egress:
  - toEntities: [cluster]
"#;

/// Calico's policies as a platform team writes them: a security tier before everything that
/// keeps dev out of prod and passes the rest, a platform tier that lets every pod resolve
/// names and passes the rest, and team-0's egress confined to the cluster's pod network in
/// the default tier, after the NetworkPolicies.
const CALICO: &str = r#"
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: platform}
spec: {order: 2000, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.dev-out-of-prod}
spec:
  tier: security
  selector: all()
  types: [Ingress]
  ingress:
  - action: Deny
    source: {namespaceSelector: env == 'dev'}
    destination: {selector: pcns.env == 'prod'}
  - action: Pass
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: platform.dns}
spec:
  tier: platform
  selector: all()
  types: [Egress]
  egress:
  - action: Allow
    protocol: UDP
    destination: {selector: k8s-app == 'kube-dns', ports: [53]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: team-0-in-cluster}
spec:
  order: 2000
  namespaceSelector: team == 'team-0'
  selector: all()
  types: [Egress]
  egress:
  - action: Allow
    destination: {nets: [10.0.0.0/8]}
"#;

/// The same cluster with the Calico tiers and policies of [`CALICO`].
fn bench_size_with_calico(pods: usize, policies: usize, verdicts: bool) {
    let world = generate(Shape::new(pods, policies));
    let loaded = netpol_tui::cluster::files::load_text("calico", CALICO)
        .expect("the Calico policies load")
        .world;
    let set = (*world.policies)
        .clone()
        .with_tiers(loaded.policies.tiers.clone())
        .with_calico_tiers(loaded.policies.calico_tiers.clone());
    let world = netpol_tui::cluster::World::new((*world.inventory).clone(), set);
    bench_world(
        world,
        verdicts,
        " and 3 Calico GlobalNetworkPolicies (2 in tiers of their own)",
    );
}

/// The same cluster with the Cilium policies of [`CILIUM`].
fn bench_size_with_cilium(pods: usize, policies: usize, verdicts: bool) {
    let world = generate(Shape::new(pods, policies));
    let loaded = netpol_tui::cluster::files::load_text("cilium", CILIUM)
        .expect("the Cilium policies load")
        .world;
    let mut set = (*world.policies).clone();
    let mut all = set.policies.clone();
    all.extend(loaded.policies.policies.iter().cloned());
    set = netpol_tui::policy::PolicySet::new(all).with_tiers(loaded.policies.tiers.clone());
    let world = netpol_tui::cluster::World::new((*world.inventory).clone(), set);
    bench_world(
        world,
        verdicts,
        " and 4 CiliumClusterwideNetworkPolicies (2 with deny rules)",
    );
}

fn bench_size(pods: usize, policies: usize, verdicts: bool) {
    bench_world(generate(Shape::new(pods, policies)), verdicts, "");
}

/// The same cluster with the tier policies of [`TIERS`].
fn bench_size_with_tiers(pods: usize, policies: usize, verdicts: bool) {
    let world = generate(Shape::new(pods, policies));
    let tiers = netpol_tui::cluster::files::load_text("tiers", TIERS)
        .expect("the tier policies load")
        .world
        .policies
        .tiers
        .clone();
    let set = (*world.policies).clone().with_tiers(tiers);
    let world = netpol_tui::cluster::World::new((*world.inventory).clone(), set);
    bench_world(
        world,
        verdicts,
        " and 4 tier policies (3 admin, 1 baseline)",
    );
}

fn bench_world(world: netpol_tui::cluster::World, verdicts: bool, what: &str) {
    let inv = Arc::clone(&world.inventory);
    let set = Arc::clone(&world.policies);
    println!(
        "cluster: {} pods, {} policies{what}, {} namespaces",
        inv.pods.len(),
        set.policies.len(),
        inv.namespaces.len()
    );

    let mut builds = Vec::new();
    let before = live();
    let mut index = None;
    for _ in 0..5 {
        drop(index.take());
        let start = Instant::now();
        index = Some(Index::build(
            Arc::clone(&inv),
            Arc::clone(&set),
            EngineOptions::default(),
        ));
        builds.push(start.elapsed());
    }
    let Some(index) = index else { return };
    let held = live().saturating_sub(before);
    println!(
        "  index build: median {:.1} ms over 5 runs; index memory {:.1} MiB; {} pod classes",
        median(builds).as_secs_f64() * 1e3,
        mib(held),
        index.class_count()
    );

    if verdicts {
        let sample = flows(&index, 1_000_000, 7);
        // Throughput: a tight loop over a million varied flows.
        let start = Instant::now();
        let mut allowed = 0usize;
        for f in &sample {
            allowed += usize::from(black_box(index.verdict(black_box(f))).allowed());
        }
        let total = start.elapsed();
        // Latency: each of 200k verdicts timed on its own (includes the timer's overhead).
        let mut each = Vec::with_capacity(200_000);
        for f in sample.iter().take(200_000) {
            let t = Instant::now();
            black_box(index.verdict(black_box(f)));
            each.push(t.elapsed());
        }
        each.sort();
        println!(
            "  verdicts: {:.2} M/s single-threaded ({allowed} of {} allowed); latency median {} ns, p99 {} ns",
            sample.len() as f64 / total.as_secs_f64() / 1e6,
            sample.len(),
            each[each.len() / 2].as_nanos(),
            each[each.len() * 99 / 100].as_nanos()
        );
    }

    let all: Vec<u32> = (0..inv.pods.len() as u32).collect();
    let mut runs = Vec::new();
    let mut pairs = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let m = index.matrix(&all, Protocol::Tcp, 8080);
        pairs = m.allowed_pairs();
        runs.push(start.elapsed());
    }
    println!(
        "  matrix TCP/8080, all {} x {} pairs: median {:.1} ms over 3 runs ({} pairs allowed)",
        all.len(),
        all.len(),
        median(runs).as_secs_f64() * 1e3,
        pairs
    );
}

/// A `kind: List` of pods as `kubectl get pods -A -o yaml` prints it, from a generated world.
fn pod_list_yaml(pods: usize) -> String {
    let world = generate(Shape::new(pods, 0));
    let mut out = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for p in &world.inventory.pods {
        let labels: Vec<String> = p
            .labels
            .iter()
            .map(|(k, v)| format!("{k}: \"{v}\""))
            .collect();
        let ports: Vec<String> = p
            .ports
            .iter()
            .map(|cp| {
                format!(
                    "{{name: {}, containerPort: {}, protocol: {}}}",
                    cp.name.as_deref().unwrap_or("p"),
                    cp.port,
                    cp.protocol
                )
            })
            .collect();
        out.push_str(&format!(
            "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: {}\n    namespace: {}\n    labels: {{{}}}\n  spec:\n    nodeName: {}\n    containers:\n    - name: main\n      image: app:1\n      ports: [{}]\n  status:\n    phase: Running\n    podIP: {}\n",
            p.name,
            p.namespace,
            labels.join(", "),
            p.node.as_deref().unwrap_or("node-0"),
            ports.join(", "),
            p.ips[0]
        ));
    }
    out
}

fn bench_load(pods: usize) {
    let text = pod_list_yaml(pods);
    let mut runs = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let loaded = netpol_tui::cluster::files::load_text("bench", &text);
        runs.push(start.elapsed());
        match loaded {
            Ok(l) => assert_eq!(l.world.inventory.pods.len(), pods),
            Err(e) => panic!("generated manifests do not load: {}", e.0[0]),
        }
    }
    println!(
        "manifests: one kind: List of {pods} pods ({:.1} MiB of YAML) loads in median {:.0} ms over 3 runs",
        mib(text.len()),
        median(runs).as_secs_f64() * 1e3
    );
}

fn main() {
    // `cargo bench` passes --bench; a filter argument is not supported and not needed.
    println!("netpol-tui engine benchmark (release build, one thread)");
    bench_size(1_000, 200, false);
    bench_size(10_000, 2_000, true);
    bench_size_with_tiers(10_000, 2_000, true);
    bench_size_with_cilium(10_000, 2_000, true);
    bench_size_with_calico(10_000, 2_000, true);
    bench_load(10_000);
}
