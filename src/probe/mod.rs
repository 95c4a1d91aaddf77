//! The node side: loads the eBPF programs, attaches them to the pods' veths, follows links
//! that come and go, and turns the ring buffer into [`FlowEvent`]s.
//!
//! Everything the kernel holds for the probe (programs, TCX links, the tracepoint link,
//! maps) belongs to file descriptors of this process, so it all goes when the process ends,
//! however it ends. Nothing is pinned. Kernels older than 6.6 get the programs through a
//! clsact qdisc instead; those filters outlive a killed process.

pub mod agent;
pub mod kernel;
pub mod links;

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use aya::maps::{Array, MapData, PerCpuArray, RingBuf};
use aya::programs::tc::SchedClassifierLinkId;
use aya::programs::{BtfTracePoint, ProgramError, SchedClassifier, TcAttachType};
use aya::{Btf, Ebpf, EbpfLoader};
use netpol_probe_common as common;
use tokio::io::unix::AsyncFd;

use crate::flow::correlate::{Correlator, RawEvent, Seen};
use crate::flow::wire::Counters;
use crate::flow::FlowEvent;
use crate::policy::Protocol;
use kernel::KernelFacts;
use links::PodLink;

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/netpol-probe"));

/// Ring buffer size when none is asked for: 4 MiB, room for 65k events.
pub const DEFAULT_RING_BYTES: u32 = 1 << 22;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(
        "this build has no eBPF programs: bpf-linker was missing when it was compiled \
         (scripts/install-ebpf.sh installs it; then build again)"
    )]
    Stub,
    #[error("{0}")]
    Privileges(String),
    #[error("kernel BTF: {0}")]
    NoBtf(String),
    #[error("the kernel's verifier refused {program}: {error}\nverifier log (last lines):\n{log}")]
    Verifier {
        program: String,
        error: String,
        log: String,
    },
    #[error("loading the eBPF object: {0}")]
    Load(String),
    #[error("attaching to {iface}: {error}")]
    Attach { iface: String, error: String },
    #[error("{0}")]
    Io(String),
}

impl From<io::Error> for ProbeError {
    fn from(e: io::Error) -> ProbeError {
        ProbeError::Io(e.to_string())
    }
}

#[derive(Debug, Clone)]
pub struct ProbeOptions {
    pub ring_bytes: u32,
    /// A glob narrowing the pod veths by name (`cali*`, `lxc*`).
    pub interfaces: Option<String>,
}

impl Default for ProbeOptions {
    fn default() -> ProbeOptions {
        ProbeOptions {
            ring_bytes: DEFAULT_RING_BYTES,
            interfaces: None,
        }
    }
}

struct Attached {
    index: u32,
    from_pod: SchedClassifierLinkId,
    to_pod: SchedClassifierLinkId,
}

/// The loaded programs and where they are attached.
pub struct Probe {
    ebpf: Ebpf,
    facts: Arc<KernelFacts>,
    stats: PerCpuArray<MapData, u64>,
    attached: BTreeMap<String, Attached>,
    options: ProbeOptions,
}

/// What changed when the probe followed the links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkChange {
    Attached(String),
    Gone(String),
    Failed(String, String),
}

impl Probe {
    /// Loads and verifies the programs and attaches the drop hook. Pod veths come with
    /// [`Probe::sync_links`].
    pub fn load(options: ProbeOptions) -> Result<Probe, ProbeError> {
        if cfg!(probe_stub) || OBJECT.is_empty() {
            return Err(ProbeError::Stub);
        }
        check_privileges()?;
        let facts = Arc::new(KernelFacts::read()?);
        let btf = Btf::from_sys_fs().map_err(|e| ProbeError::NoBtf(e.to_string()))?;
        let ring = options.ring_bytes.max(4096).next_power_of_two();
        let o = facts.offsets;
        let mut ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            .map_max_entries("EVENTS", ring)
            .override_global("SKB_HEAD", &o.skb_head, true)
            .override_global("SKB_NETWORK_HEADER", &o.skb_network_header, true)
            .override_global("SKB_LEN", &o.skb_len, true)
            .override_global("SKB_DEV", &o.skb_dev, true)
            .override_global("DEV_IFINDEX", &o.dev_ifindex, true)
            .load(OBJECT)
            .map_err(|e| ProbeError::Load(format!("{e:#}")))?;

        {
            let map = ebpf
                .map_mut("IGNORED_REASONS")
                .ok_or_else(|| ProbeError::Load("map IGNORED_REASONS missing".into()))?;
            let mut ignored: Array<&mut MapData, u8> =
                Array::try_from(map).map_err(|e| ProbeError::Load(e.to_string()))?;
            for n in facts.benign() {
                if n < common::MAX_REASONS {
                    ignored
                        .set(n, 1, 0)
                        .map_err(|e| ProbeError::Load(e.to_string()))?;
                }
            }
        }

        for name in ["from_pod", "to_pod"] {
            let p: &mut SchedClassifier = program(&mut ebpf, name)?;
            p.load().map_err(|e| verifier(name, e))?;
        }
        let tp: &mut BtfTracePoint = program(&mut ebpf, "kfree_skb")?;
        tp.load("kfree_skb", &btf)
            .map_err(|e| verifier("kfree_skb", e))?;
        tp.attach().map_err(|e| ProbeError::Attach {
            iface: "tracepoint kfree_skb".into(),
            error: e.to_string(),
        })?;

        let stats = ebpf
            .take_map("STATS")
            .ok_or_else(|| ProbeError::Load("map STATS missing".into()))?;
        let stats = PerCpuArray::try_from(stats).map_err(|e| ProbeError::Load(e.to_string()))?;
        Ok(Probe {
            ebpf,
            facts,
            stats,
            attached: BTreeMap::new(),
            options: ProbeOptions {
                ring_bytes: ring,
                ..options
            },
        })
    }

    pub fn ring_bytes(&self) -> u32 {
        self.options.ring_bytes
    }

    /// Attaches to pod veths that appeared and forgets those that went.
    pub fn sync_links(&mut self) -> Result<Vec<LinkChange>, ProbeError> {
        let now = links::pod_veths(self.options.interfaces.as_deref())?;
        let mut changes = Vec::new();
        let gone: Vec<String> = self
            .attached
            .iter()
            .filter(|(name, a)| !now.iter().any(|l| &l.name == *name && l.index == a.index))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            if let Some(a) = self.attached.remove(&name) {
                // The kernel already detached the links of a vanished device; a renamed or
                // re-created one is detached here. Either way there is nothing to report.
                for (prog, id) in [("from_pod", a.from_pod), ("to_pod", a.to_pod)] {
                    if let Ok(p) = program::<SchedClassifier>(&mut self.ebpf, prog) {
                        let _ = p.detach(id);
                    }
                }
                changes.push(LinkChange::Gone(name));
            }
        }
        for link in now {
            if self.attached.contains_key(&link.name) {
                continue;
            }
            match self.attach(&link) {
                Ok(()) => changes.push(LinkChange::Attached(link.name)),
                // The link may vanish between the dump and the attach.
                Err(e) => changes.push(LinkChange::Failed(link.name, e.to_string())),
            }
        }
        Ok(changes)
    }

    fn attach(&mut self, link: &PodLink) -> Result<(), ProbeError> {
        let fail = |e: ProgramError| ProbeError::Attach {
            iface: link.name.clone(),
            error: e.to_string(),
        };
        let tcx = aya::util::KernelVersion::current()
            .is_ok_and(|v| v >= aya::util::KernelVersion::new(6, 6, 0));
        if !tcx {
            // Before TCX, classifiers hang off a clsact qdisc; one may be there already.
            let _ = aya::programs::tc::qdisc_add_clsact(&link.name);
        }
        let from_pod = program::<SchedClassifier>(&mut self.ebpf, "from_pod")?
            .attach(&link.name, TcAttachType::Ingress)
            .map_err(fail)?;
        let to_pod = match program::<SchedClassifier>(&mut self.ebpf, "to_pod")?
            .attach(&link.name, TcAttachType::Egress)
        {
            Ok(id) => id,
            Err(e) => {
                let _ = program::<SchedClassifier>(&mut self.ebpf, "from_pod")?.detach(from_pod);
                return Err(fail(e));
            }
        };
        self.attached.insert(
            link.name.clone(),
            Attached {
                index: link.index,
                from_pod,
                to_pod,
            },
        );
        Ok(())
    }

    /// Sums of the per-CPU counters.
    pub fn counters(&self) -> Counters {
        let sum = |slot: u32| -> u64 {
            self.stats
                .get(&slot, 0)
                .map(|v| v.iter().sum())
                .unwrap_or(0)
        };
        Counters {
            kernel_lost: sum(common::COUNTER_LOST),
            reader_lost: 0,
            sent: sum(common::COUNTER_SENT),
        }
    }

    /// The ring buffer, taken out to be read on the runtime.
    pub fn events(&mut self) -> Result<EventReader, ProbeError> {
        let map = self
            .ebpf
            .take_map("EVENTS")
            .ok_or_else(|| ProbeError::Load("map EVENTS missing (already taken)".into()))?;
        let ring = RingBuf::try_from(map).map_err(|e| ProbeError::Load(e.to_string()))?;
        // SAFETY: the ring buffer owns its map's descriptor, which stays open and the same
        // for as long as the AsyncFd holds it.
        let ring = unsafe { AsyncFd::register_with_interest(ring, tokio::io::Interest::READABLE) }
            .map_err(|e| ProbeError::Io(format!("ring buffer: {e}")))?;
        Ok(EventReader {
            ring,
            facts: self.facts.clone(),
            clock: Clock::now(),
        })
    }
}

fn program<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut T, ProbeError>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = ProgramError>,
{
    let p = ebpf
        .program_mut(name)
        .ok_or_else(|| ProbeError::Load(format!("program {name} missing from the object")))?;
    p.try_into()
        .map_err(|e: ProgramError| ProbeError::Load(format!("{name}: {e}")))
}

fn verifier(program: &str, e: ProgramError) -> ProbeError {
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let log = verifier_log.to_string();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            ProbeError::Verifier {
                program: program.to_string(),
                error: io_error.to_string(),
                log: tail,
            }
        }
        other => ProbeError::Load(format!("{program}: {other}")),
    }
}

/// The probe needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (or CAP_SYS_ADMIN).
fn check_privileges() -> Result<(), ProbeError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let has = |cap: u32| eff & (1u64 << cap) != 0;
    const NET_ADMIN: u32 = 12;
    const SYS_ADMIN: u32 = 21;
    const PERFMON: u32 = 38;
    const BPF: u32 = 39;
    if has(NET_ADMIN) && (has(SYS_ADMIN) || (has(BPF) && has(PERFMON))) {
        return Ok(());
    }
    Err(ProbeError::Privileges(
        "the probe needs root, or the capabilities CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN \
         (run with sudo, or use --agent to read a node agent)"
            .into(),
    ))
}

/// Converts the kernel's monotonic clock to wall-clock milliseconds.
#[derive(Debug, Clone, Copy)]
struct Clock {
    offset_ns: i128,
}

impl Clock {
    fn now() -> Clock {
        let read = |id| {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: clock_gettime writes the timespec it is given.
            unsafe { libc::clock_gettime(id, &mut ts) };
            ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
        };
        Clock {
            offset_ns: read(libc::CLOCK_REALTIME) - read(libc::CLOCK_MONOTONIC),
        }
    }

    fn wall_ms(self, mono_ns: u64) -> u64 {
        ((mono_ns as i128 + self.offset_ns) / 1_000_000).max(0) as u64
    }
}

/// Reads the ring buffer when the kernel signals data.
pub struct EventReader {
    ring: AsyncFd<RingBuf<MapData>>,
    facts: Arc<KernelFacts>,
    clock: Clock,
}

impl EventReader {
    /// Waits for events and appends up to `max` of them to `out`.
    pub async fn read(&mut self, out: &mut Vec<RawEvent>, max: usize) -> io::Result<()> {
        let mut guard = self.ring.readable_mut().await?;
        let ring = guard.get_inner_mut();
        let mut n = 0;
        while n < max {
            let Some(item) = ring.next() else { break };
            if let Some(e) = decode(&item, &self.facts, self.clock) {
                out.push(e);
            }
            n += 1;
        }
        if n < max {
            guard.clear_ready();
        }
        Ok(())
    }
}

fn decode(bytes: &[u8], facts: &KernelFacts, clock: Clock) -> Option<RawEvent> {
    if bytes.len() < std::mem::size_of::<common::Event>() {
        return None;
    }
    // SAFETY: the kernel wrote a whole `Event` (checked length); read unaligned.
    let e: common::Event = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
    let ip = |a: [u8; 16]| -> IpAddr {
        if e.family == common::FAMILY_V4 {
            IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
        } else {
            IpAddr::V6(Ipv6Addr::from(a))
        }
    };
    let protocol = match e.protocol {
        common::IPPROTO_TCP => Protocol::Tcp,
        common::IPPROTO_UDP => Protocol::Udp,
        common::IPPROTO_SCTP => Protocol::Sctp,
        _ => return None,
    };
    let seen = match e.kind {
        common::KIND_FROM_POD => Seen::FromPod,
        common::KIND_TO_POD => Seen::ToPod,
        common::KIND_DROP => Seen::Dropped(facts.reason_name(e.reason)),
        _ => return None,
    };
    Some(RawEvent {
        time_ms: clock.wall_ms(e.ts_ns),
        src: ip(e.src),
        dst: ip(e.dst),
        protocol,
        src_port: e.src_port,
        dst_port: e.dst_port,
        seen,
    })
}

/// The names of the programs this probe loads.
pub const PROGRAMS: [&str; 3] = ["from_pod", "to_pod", "kfree_skb"];

/// Names of the eBPF programs loaded in the kernel now (by any process).
pub fn loaded_program_names() -> Result<Vec<String>, ProbeError> {
    let mut names = Vec::new();
    for p in aya::programs::loaded_programs() {
        let p = p.map_err(|e| ProbeError::Io(e.to_string()))?;
        names.push(p.name_as_str().unwrap_or_default().to_string());
    }
    Ok(names)
}

/// What [`run`] hands to its sink.
#[derive(Debug, Clone)]
pub enum Output {
    Flows(Vec<FlowEvent>),
    Counters(Counters),
    Link(LinkChange),
}

/// Streams the probe's flows to `sink` until `stop` completes: attaches to pod veths as
/// they come, correlates hook events into flows, and reports the counters every second.
pub async fn run(
    mut probe: Probe,
    stop: impl Future<Output = ()>,
    mut sink: impl FnMut(Output),
) -> Result<(), ProbeError> {
    let mut reader = probe.events()?;
    for change in probe.sync_links()? {
        sink(Output::Link(change));
    }
    let (link_tx, mut link_rx) = tokio::sync::mpsc::channel::<()>(1);
    links::watch(move || {
        !matches!(
            link_tx.try_send(()),
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_))
        )
    })?;
    let mut correlator = Correlator::new(Correlator::HOLD_MS);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut counters_every = tokio::time::interval(Duration::from_secs(1));
    let mut raw = Vec::with_capacity(4096);
    let mut flows = Vec::with_capacity(4096);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            r = reader.read(&mut raw, 4096) => {
                r?;
                for e in raw.drain(..) {
                    correlator.push(e, &mut flows);
                }
            }
            Some(()) = link_rx.recv() => {
                // A burst of link messages (a pod starting) settles before the next dump.
                tokio::time::sleep(Duration::from_millis(20)).await;
                for change in probe.sync_links()? {
                    sink(Output::Link(change));
                }
            }
            _ = tick.tick() => {
                correlator.expire(crate::now_ms(), &mut flows);
            }
            _ = counters_every.tick() => {
                sink(Output::Counters(probe.counters()));
            }
        }
        if !flows.is_empty() {
            sink(Output::Flows(std::mem::take(&mut flows)));
        }
    }
    // Drain what the kernel already queued, for a moment only: with traffic still flowing
    // the ring never empties, and stopping must not wait for it.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(250);
    while let Ok(Ok(())) = tokio::time::timeout_at(deadline, reader.read(&mut raw, 4096)).await {
        if raw.is_empty() {
            break;
        }
        for e in raw.drain(..) {
            correlator.push(e, &mut flows);
        }
        if !flows.is_empty() {
            sink(Output::Flows(std::mem::take(&mut flows)));
        }
    }
    correlator.flush(&mut flows);
    if !flows.is_empty() {
        sink(Output::Flows(flows));
    }
    sink(Output::Counters(probe.counters()));
    Ok(())
}
