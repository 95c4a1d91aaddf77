//! Audit benchmark: a generated cluster (10k pods, 2k policies) with a default-deny staged in
//! 20 namespaces. Prints the staged world's build, the declared-reachability diff, one
//! million recorded flows judged under both worlds (from memory, and read from `trace -o
//! json` lines), and the heap each holds. Run with `scripts/bench.sh audit`.
//!
//! Targets: the declared diff <= 2 s; >= 1M flows/s judged on one core.

use std::hint::black_box;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netpol_tui::cluster::synthetic::{generate, Shape};
use netpol_tui::flow::record;
use netpol_tui::policy::audit::declared;
use netpol_tui::policy::audit::{stage_manifest, Audit, Delta, Observer, Staged, WhatIf};
use netpol_tui::policy::workload::Workloads;
use netpol_tui::policy::{EngineOptions, Index, Protocol};

mod common;

use common::{live, mib, Counting};

#[global_allocator]
static ALLOC: Counting = Counting;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Recorded flows: random pod pairs on the destination's declared ports, a tenth to
/// addresses outside; times a millisecond apart.
fn recorded(index: &Index, n: usize) -> Vec<(u64, IpAddr, IpAddr, Protocol, u16)> {
    let mut rng = fastrand::Rng::with_seed(11);
    let pods = &index.inventory().pods;
    (0..n)
        .map(|i| {
            let src = &pods[rng.usize(..pods.len())];
            let dst = &pods[rng.usize(..pods.len())];
            let (dst_ip, protocol, port) = match dst.ports.get(rng.usize(..dst.ports.len().max(1)))
            {
                Some(cp) if rng.u8(..10) != 0 => (dst.ips[0], cp.protocol, cp.port),
                _ => (IpAddr::from([203, 0, 113, rng.u8(..)]), Protocol::Tcp, 443),
            };
            (
                1_796_032_800_000 + i as u64,
                src.ips[0],
                dst_ip,
                protocol,
                port,
            )
        })
        .collect()
}

fn main() {
    let world = generate(Shape::new(10_000, 2_000));
    let current = Arc::new(Index::build(
        world.inventory.clone(),
        world.policies.clone(),
        EngineOptions::default(),
    ));
    let namespaces: Vec<String> = world
        .inventory
        .namespaces
        .iter()
        .take(20)
        .map(|n| n.name.clone())
        .collect();
    let changes: Vec<Staged> = namespaces
        .iter()
        .flat_map(|ns| {
            let w = WhatIf::parse(&format!("default-deny:{ns}")).expect("what-if");
            w.manifests(&world.inventory)
        })
        .map(|np| stage_manifest(&np, "bench").expect("compiles"))
        .collect();
    println!(
        "cluster: {} pods, {} policies; staged: default-deny in {} namespaces",
        world.inventory.pods.len(),
        world.policies.policies.len(),
        namespaces.len()
    );

    let before = live();
    let t = Instant::now();
    let audit = Audit::new(current.clone(), &changes);
    let workloads = Workloads::new(audit.current.inventory());
    println!(
        "staged world and workloads: {:.0} ms, {:.1} MiB heap ({} workloads)",
        ms(t.elapsed()),
        mib(live().saturating_sub(before)),
        workloads.list.len()
    );

    let mut rows = 0usize;
    let mut breaks = 0usize;
    let mut peak = 0usize;
    let runs: Vec<Duration> = (0..3)
        .map(|_| {
            rows = 0;
            breaks = 0;
            let base = live();
            let t = Instant::now();
            declared::diff(
                &audit,
                &workloads,
                |_, _| true,
                |r| {
                    rows += 1;
                    if r.delta == Delta::WouldBreak {
                        breaks += 1;
                    }
                    peak = peak.max(live().saturating_sub(base));
                },
            );
            t.elapsed()
        })
        .collect();
    println!(
        "declared-reachability diff: median {:.0} ms over 3 runs ({rows} rows, {breaks} would break; {:.1} MiB heap at most while emitting)",
        ms(median(runs)),
        mib(peak)
    );

    let flows = recorded(&current, 1_000_000);
    let base = live();
    let t = Instant::now();
    let mut observer = Observer::new(&audit, &workloads);
    for &(time, src, dst, protocol, port) in &flows {
        observer.add(time, src, dst, protocol, port);
    }
    let held = live().saturating_sub(base);
    let groups = observer.finish();
    let judged = t.elapsed();
    println!(
        "1M recorded flows judged under both worlds (one thread): {:.0} ms, {:.2} M flows/s; {} groups change; {:.1} MiB heap held",
        ms(judged),
        1.0 / judged.as_secs_f64(),
        groups.len(),
        mib(held)
    );

    // The same flows as `trace -o json` lines, read and judged.
    let mut text = Vec::with_capacity(flows.len() * 200);
    for &(time, src, dst, protocol, port) in &flows {
        let _ = writeln!(
            text,
            r#"{{"time_ms":{time},"src":"x","dst":"y","src_ip":"{src}","dst_ip":"{dst}","protocol":"{protocol}","src_port":40000,"dst_port":{port},"datapath":"forwarded","drop_reason":null,"outcome":"not_isolated","policies":[],"explanation":""}}"#
        );
    }
    let t = Instant::now();
    let mut observer = Observer::new(&audit, &workloads);
    let report = record::read(&mut text.as_slice(), |e| {
        observer.add(e.time_ms, e.src, e.dst, e.protocol, e.dst_port)
    })
    .expect("reads");
    black_box(observer.finish());
    let read = t.elapsed();
    println!(
        "1M trace -o json lines ({:.0} MiB) read and judged: {:.0} ms, {:.2} M flows/s ({} flows)",
        mib(text.len()),
        ms(read),
        report.flows as f64 / read.as_secs_f64() / 1e6,
        report.flows
    );
}
