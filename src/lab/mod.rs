//! The lab: a miniature Kubernetes node on this machine, built from a manifest, for trying
//! the probe against a real kernel. Test scaffolding, not a product feature.
//!
//! - a "node" network namespace that routes between the pods, as a routed CNI does;
//! - one network namespace per pod, with the pod's addresses, joined to the node by a veth
//!   pair (`npl<N>` on the node side, `eth0` in the pod);
//! - nftables rules in the node enforcing the manifest's policies ([`nft`]);
//! - servers on the pods' container ports and a traffic generator ([`traffic`]).
//!
//! Everything has a `nplab-` name, and only the addresses of the manifest's pods are used,
//! inside namespaces the lab made. [`Lab::down`] removes it all; it runs on drop too, and
//! a lab left behind by a killed process is removed when the next one starts.

pub mod nft;
pub mod traffic;

use std::fs::File;
use std::io::Write as _;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

use crate::policy::model::ContainerPort;
use crate::policy::{Index, PodId};

pub const PREFIX: &str = "nplab-";
pub const NODE_NETNS: &str = "nplab-node";
/// Host-side veth names: `npl0`, `npl1`, ...
pub const IFACE_PREFIX: &str = "npl";
/// The pods' gateway: on every node-side veth, as Calico does.
const GATEWAY_V4: &str = "169.254.1.1";
const GATEWAY_V6: &str = "fe80::1";

#[derive(Debug, thiserror::Error)]
#[error("lab: {0}")]
pub struct LabError(pub String);

#[derive(Debug, Clone)]
pub struct LabPod {
    pub id: PodId,
    /// `ns/name`.
    pub key: String,
    pub netns: String,
    /// Node-side veth.
    pub iface: String,
    pub ips: Vec<IpAddr>,
    pub ports: Vec<ContainerPort>,
}

pub struct Lab {
    pub pods: Vec<LabPod>,
    /// Pods of the manifest the lab could not build, with the reason.
    pub skipped: Vec<String>,
    home: Option<File>,
    up: bool,
}

impl Lab {
    /// Builds the node, the pods and the rules. On failure, whatever was made is removed.
    pub fn up(index: &Index, extra_rules: &[String]) -> Result<Lab, LabError> {
        check_root()?;
        for tool in ["ip", "nft"] {
            which(tool)?;
        }
        cleanup_stale();
        let inv = index.inventory();
        let mut pods = Vec::new();
        let mut skipped = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (id, pod) in inv.pods.iter().enumerate() {
            if pod.host_network {
                skipped.push(format!("{}: hostNetwork", pod.key()));
                continue;
            }
            if pod.ips.is_empty() {
                skipped.push(format!("{}: no pod IP in the manifest", pod.key()));
                continue;
            }
            if let Some(ip) = pod.ips.iter().find(|ip| !seen.insert(**ip)) {
                return Err(LabError(format!(
                    "{}: address {ip} is used by another pod",
                    pod.key()
                )));
            }
            let n = pods.len();
            pods.push(LabPod {
                id: id as PodId,
                key: pod.key(),
                netns: format!("{PREFIX}p{n}"),
                iface: format!("{IFACE_PREFIX}{n}"),
                ips: pod.ips.clone(),
                ports: pod.ports.clone(),
            });
        }
        if pods.is_empty() {
            return Err(LabError(
                "the manifest has no pod with an IP address".into(),
            ));
        }
        let mut lab = Lab {
            pods,
            skipped,
            home: None,
            up: true,
        };
        if let Err(e) = lab.build(index, extra_rules) {
            lab.down();
            return Err(e);
        }
        Ok(lab)
    }

    fn build(&self, index: &Index, extra_rules: &[String]) -> Result<(), LabError> {
        let mut add = format!("netns add {NODE_NETNS}\n");
        for p in &self.pods {
            add.push_str(&format!("netns add {}\n", p.netns));
        }
        ip_batch(None, &add)?;
        let quiet_dad = "net.ipv6.conf.default.accept_dad=0";
        for ns in std::iter::once(NODE_NETNS).chain(self.pods.iter().map(|p| p.netns.as_str())) {
            run(Command::new("ip").args(["netns", "exec", ns, "sysctl", "-qw", quiet_dad]))?;
        }
        run(Command::new("ip").args([
            "netns",
            "exec",
            NODE_NETNS,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
        ]))?;

        let mut node = String::from("link set lo up\n");
        for p in &self.pods {
            let i = &p.iface;
            node.push_str(&format!(
                "link add {i} type veth peer name eth0 netns {}\nlink set {i} up\n\
                 address add {GATEWAY_V4}/32 dev {i}\naddress add {GATEWAY_V6}/64 dev {i} nodad\n",
                p.netns
            ));
            for ip in &p.ips {
                let len = if ip.is_ipv4() { 32 } else { 128 };
                node.push_str(&format!("route add {ip}/{len} dev {i}\n"));
            }
        }
        ip_batch(Some(NODE_NETNS), &node)?;

        for p in &self.pods {
            let mut pod = String::from("link set lo up\nlink set eth0 up\n");
            for ip in &p.ips {
                let len = if ip.is_ipv4() { 32 } else { 128 };
                pod.push_str(&format!("address add {ip}/{len} dev eth0 nodad\n"));
            }
            pod.push_str(&format!(
                "route add {GATEWAY_V4} dev eth0 scope link\nroute add default via {GATEWAY_V4} dev eth0\n"
            ));
            if p.ips.iter().any(|ip| ip.is_ipv6()) {
                pod.push_str(&format!("route add default via {GATEWAY_V6} dev eth0\n"));
            }
            ip_batch(Some(&p.netns), &pod)?;
        }

        let ids: Vec<PodId> = self.pods.iter().map(|p| p.id).collect();
        let rules = nft::ruleset(index, &ids, extra_rules);
        feed(
            Command::new("ip").args(["netns", "exec", NODE_NETNS, "nft", "-f", "-"]),
            &rules,
            "nft refused the rules",
        )?;
        Ok(())
    }

    /// Moves the calling thread into the node's network namespace. Threads it starts
    /// afterwards (a runtime's workers) are born there: the probe then sees the node's
    /// links, as an agent on a node does.
    pub fn enter_node(&mut self) -> Result<(), LabError> {
        if self.home.is_none() {
            self.home = Some(
                File::open("/proc/self/ns/net")
                    .map_err(|e| LabError(format!("/proc/self/ns/net: {e}")))?,
            );
        }
        enter_netns(NODE_NETNS)
    }

    /// Removes the pods and the node (and with them the veths and the rules).
    pub fn down(&mut self) {
        if let Some(home) = self.home.take() {
            // SAFETY: setns on a namespace file this process opened.
            unsafe { libc::setns(home.as_raw_fd(), libc::CLONE_NEWNET) };
        }
        if !self.up {
            return;
        }
        self.up = false;
        let mut del = String::new();
        for p in &self.pods {
            del.push_str(&format!("netns delete {}\n", p.netns));
        }
        del.push_str(&format!("netns delete {NODE_NETNS}\n"));
        ip_batch_force(&del);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.down();
    }
}

/// Moves the calling thread into the named network namespace (`/run/netns/NAME`).
pub fn enter_netns(name: &str) -> Result<(), LabError> {
    let path = format!("/run/netns/{name}");
    let f = File::open(&path).map_err(|e| LabError(format!("{path}: {e}")))?;
    // SAFETY: setns on a namespace file just opened; affects only this thread.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(LabError(format!(
            "entering {name}: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// Removes namespaces of a lab whose process was killed.
pub fn cleanup_stale() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    let mut del = String::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with(PREFIX) {
            del.push_str(&format!("netns delete {name}\n"));
        }
    }
    if !del.is_empty() {
        ip_batch_force(&del);
    }
}

fn check_root() -> Result<(), LabError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(LabError(
            "the lab makes network namespaces, veths and nftables rules: run it as root".into(),
        ));
    }
    Ok(())
}

fn which(tool: &str) -> Result<(), LabError> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    if found {
        Ok(())
    } else {
        Err(LabError(format!(
            "{tool} not found (scripts/install-ebpf.sh installs iproute2 and nftables)"
        )))
    }
}

fn run(cmd: &mut Command) -> Result<(), LabError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError(format!("{cmd:?}: {e}")))?;
    if !out.status.success() {
        return Err(LabError(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Runs `cmd` with `input` on its stdin; a failure names `what` and the command's stderr.
fn feed(cmd: &mut Command, input: &str, what: &str) -> Result<(), LabError> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError(format!("{what}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| LabError(format!("{what}: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| LabError(format!("{what}: {e}")))?;
    if !out.status.success() {
        return Err(LabError(format!(
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn ip_batch(netns: Option<&str>, script: &str) -> Result<(), LabError> {
    let mut cmd = Command::new("ip");
    let mut what = "ip".to_string();
    if let Some(ns) = netns {
        cmd.args(["-n", ns]);
        what = format!("ip -n {ns}");
    }
    feed(cmd.args(["-batch", "-"]), script, &what)
}

/// Like [`ip_batch`], carrying on past failing lines (for removal); failures are ignored.
fn ip_batch_force(script: &str) {
    let _ = feed(
        Command::new("ip").args(["-force", "-batch", "-"]),
        script,
        "ip",
    );
}
