//! Kernel side of the node probe.
//!
//! - `from_pod` / `to_pod`: classifiers on the host side of each pod's veth (ingress there is
//!   traffic leaving the pod, egress is traffic handed to it). They remember each flow in an
//!   LRU map keyed by its ordered tuple and report each new flow once per hook; a packet of a
//!   flow already reported costs one lookup, no store and no clock read.
//! - `kfree_skb`: the `kfree_skb` BTF tracepoint, reporting IP packets the kernel dropped with
//!   the drop reason and the device. Reasons the loader marks as benign are ignored here.
//!
//! Rust-built programs get no CO-RE relocations, so the `sk_buff` and `net_device` offsets
//! the drop hook needs are globals the loader fills in from the running kernel's BTF.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

#[cfg(target_arch = "bpf")]
mod probe {
    use aya_ebpf::{
        helpers::{bpf_ktime_get_ns, bpf_probe_read_kernel, bpf_probe_read_kernel_buf},
        macros::{btf_tracepoint, classifier, map},
        maps::{Array, LruHashMap, PerCpuArray, RingBuf},
        programs::{BtfTracePointContext, TcContext},
    };
    use netpol_probe_common::{
        Event, FlowKey, FlowState, COUNTERS, COUNTER_DROPS_SEEN, COUNTER_LOST, COUNTER_SENT,
        FAMILY_V4, FAMILY_V6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, KIND_DROP, KIND_FROM_POD,
        KIND_TO_POD, MAX_REASONS, TCP_ACK, TCP_SYN,
    };

    /// Let the next program (TCX) or the default action (clsact) decide: the probe only looks.
    const NEXT: i32 = -1;
    const ETH_HLEN: usize = 14;
    const ETH_P_IP: u16 = 0x0800;
    const ETH_P_IPV6: u16 = 0x86DD;

    /// Default size; the loader may change it (`map_max_entries`).
    #[map]
    static EVENTS: RingBuf = RingBuf::with_byte_size(1 << 22, 0);

    #[map]
    static FLOWS: LruHashMap<FlowKey, FlowState> = LruHashMap::with_max_entries(65_536, 0);

    /// Non-zero at a reason's number: do not report drops with that reason.
    #[map]
    static IGNORED_REASONS: Array<u8> = Array::with_max_entries(MAX_REASONS, 0);

    #[map]
    static STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(COUNTERS, 0);

    // Offsets in bytes, from the running kernel's BTF.
    #[no_mangle]
    static SKB_HEAD: u32 = 0;
    #[no_mangle]
    static SKB_NETWORK_HEADER: u32 = 0;
    #[no_mangle]
    static SKB_LEN: u32 = 0;
    #[no_mangle]
    static SKB_DEV: u32 = 0;
    #[no_mangle]
    static DEV_IFINDEX: u32 = 0;

    #[inline(always)]
    fn global(v: &'static u32) -> usize {
        // SAFETY: a plain read of a global the loader wrote before the program was loaded;
        // volatile so the compiler does not fold the zero it was declared with.
        unsafe { core::ptr::read_volatile(v) as usize }
    }

    #[inline(always)]
    fn count(slot: u32) {
        if let Some(p) = STATS.get_ptr_mut(slot) {
            // SAFETY: per-CPU slot, only this CPU writes it while the program runs.
            unsafe { *p += 1 };
        }
    }

    #[inline(always)]
    fn emit(event: &Event) {
        match EVENTS.reserve::<Event>(0) {
            Some(mut entry) => {
                entry.write(*event);
                entry.submit(0);
                count(COUNTER_SENT);
            }
            None => count(COUNTER_LOST),
        }
    }

    fn empty_event(kind: u8, ts_ns: u64) -> Event {
        Event {
            ts_ns,
            kind,
            family: 0,
            protocol: 0,
            tcp_flags: 0,
            ifindex: 0,
            reason: 0,
            src_port: 0,
            dst_port: 0,
            len: 0,
            _pad: 0,
            src: [0; 16],
            dst: [0; 16],
        }
    }

    /// A pointer to a `T` at `offset` of the packet, when the packet is long enough
    /// (direct packet access: no helper call).
    #[inline(always)]
    fn at<T>(ctx: &TcContext, offset: usize) -> Option<*const T> {
        let start = ctx.data();
        if start + offset + core::mem::size_of::<T>() > ctx.data_end() {
            return None;
        }
        Some((start + offset) as *const T)
    }

    /// The packet's tuple as sent, and its TCP flags, if it is TCP, UDP or SCTP over IPv4
    /// or IPv6 (Ethernet framed) and carries ports.
    #[inline(always)]
    fn parse_tc(ctx: &TcContext) -> Option<(FlowKey, u8)> {
        // SAFETY (every read below): `at` checked the bytes lie inside the packet.
        let proto = u16::from_be(unsafe { *at::<u16>(ctx, 12)? });
        let mut key = FlowKey {
            src: [0; 16],
            dst: [0; 16],
            src_port: 0,
            dst_port: 0,
            family: 0,
            protocol: 0,
            _pad: [0; 2],
        };
        let l4 = match proto {
            ETH_P_IP => {
                let ip = unsafe { &*at::<[u8; 20]>(ctx, ETH_HLEN)? };
                if u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff != 0 {
                    return None;
                }
                key.family = FAMILY_V4;
                key.protocol = ip[9];
                key.src[..4].copy_from_slice(&ip[12..16]);
                key.dst[..4].copy_from_slice(&ip[16..20]);
                ETH_HLEN + ((ip[0] & 0x0f) as usize) * 4
            }
            ETH_P_IPV6 => {
                let ip = unsafe { &*at::<[u8; 40]>(ctx, ETH_HLEN)? };
                key.family = FAMILY_V6;
                key.protocol = ip[6];
                key.src.copy_from_slice(&ip[8..24]);
                key.dst.copy_from_slice(&ip[24..40]);
                ETH_HLEN + 40
            }
            _ => return None,
        };
        if !matches!(key.protocol, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP) {
            return None;
        }
        let ports = unsafe { &*at::<[u8; 14]>(ctx, l4)? };
        key.src_port = u16::from_be_bytes([ports[0], ports[1]]);
        key.dst_port = u16::from_be_bytes([ports[2], ports[3]]);
        let flags = if key.protocol == IPPROTO_TCP {
            ports[13]
        } else {
            0
        };
        Some((key, flags))
    }

    /// Whether `(src, src_port)` sorts before `(dst, dst_port)`: both directions of a flow
    /// then share one map entry, found with one lookup.
    #[inline(always)]
    fn ordered(k: &FlowKey) -> bool {
        let a = u128::from_be_bytes(k.src);
        let b = u128::from_be_bytes(k.dst);
        a < b || (a == b && k.src_port <= k.dst_port)
    }

    #[inline(always)]
    fn observe(ctx: &TcContext, kind: u8) {
        let Some((packet, flags)) = parse_tc(ctx) else {
            return;
        };
        let forward = ordered(&packet);
        let key = if forward {
            packet
        } else {
            FlowKey {
                src: packet.dst,
                dst: packet.src,
                src_port: packet.dst_port,
                dst_port: packet.src_port,
                ..packet
            }
        };
        let bit = if kind == KIND_FROM_POD { 1u8 } else { 2u8 };
        // `seen` bit 7: the initiator is the ordered side.
        let initiator_bit = 0x80u8;
        if let Some(st) = FLOWS.get_ptr_mut(&key) {
            // SAFETY: a value of the map; a racing update may report a flow twice, never
            // touch other memory.
            let st = unsafe { &mut *st };
            let from_initiator = (st.seen & initiator_bit != 0) == forward;
            // Replies, and what this hook already reported: nothing to write.
            if !from_initiator || st.seen & bit != 0 {
                return;
            }
            st.seen |= bit;
        } else {
            // A TCP flow is only new at its first SYN: a stream already running when the
            // probe started, or a reply to one, is not reported as a flow of its own.
            if packet.protocol == IPPROTO_TCP && (flags & TCP_SYN == 0 || flags & TCP_ACK != 0) {
                return;
            }
            let st = FlowState {
                seen: bit | if forward { initiator_bit } else { 0 },
                _pad: [0; 7],
            };
            if FLOWS.insert(&key, &st, 0).is_err() {
                return;
            }
        }
        // SAFETY: a helper without arguments.
        let now = unsafe { bpf_ktime_get_ns() };
        let mut e = empty_event(kind, now);
        e.family = packet.family;
        e.protocol = packet.protocol;
        e.tcp_flags = flags;
        // SAFETY: the context's own __sk_buff.
        e.ifindex = unsafe { (*ctx.skb.skb).ifindex };
        e.src_port = packet.src_port;
        e.dst_port = packet.dst_port;
        e.len = ctx.len();
        e.src = packet.src;
        e.dst = packet.dst;
        emit(&e);
    }

    #[classifier]
    pub fn from_pod(ctx: TcContext) -> i32 {
        observe(&ctx, KIND_FROM_POD);
        NEXT
    }

    #[classifier]
    pub fn to_pod(ctx: TcContext) -> i32 {
        observe(&ctx, KIND_TO_POD);
        NEXT
    }

    /// `kfree_skb(struct sk_buff *skb, void *location, enum skb_drop_reason reason, ...)`.
    #[btf_tracepoint(function = "kfree_skb")]
    pub fn kfree_skb(ctx: BtfTracePointContext) -> i32 {
        let skb: *const u8 = ctx.arg(0);
        let reason: u64 = ctx.arg(2);
        if reason < MAX_REASONS as u64 {
            if let Some(&ignored) = IGNORED_REASONS.get(reason as u32) {
                if ignored != 0 {
                    return 0;
                }
            }
        }
        count(COUNTER_DROPS_SEEN);
        // SAFETY: reads of kernel memory through the checked helper; a failed read ends here.
        let _ = unsafe { report_drop(skb, reason as u32) };
        0
    }

    #[inline(always)]
    unsafe fn read<T>(base: *const u8, offset: usize) -> Result<T, i32> {
        bpf_probe_read_kernel(base.wrapping_add(offset) as *const T)
    }

    #[inline(always)]
    unsafe fn report_drop(skb: *const u8, reason: u32) -> Result<(), i32> {
        let head: *const u8 = read(skb, global(&SKB_HEAD))?;
        let nh: u16 = read(skb, global(&SKB_NETWORK_HEADER))?;
        if head.is_null() || nh == 0xffff {
            return Err(0);
        }
        let ip_at = head.wrapping_add(nh as usize);
        let mut ip = [0u8; 40];
        bpf_probe_read_kernel_buf(ip_at, &mut ip)?;
        // SAFETY: a helper without arguments.
        let mut e = empty_event(KIND_DROP, bpf_ktime_get_ns());
        let l4 = match ip[0] >> 4 {
            4 => {
                if u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff != 0 {
                    return Err(0);
                }
                e.family = FAMILY_V4;
                e.protocol = ip[9];
                e.src[..4].copy_from_slice(&ip[12..16]);
                e.dst[..4].copy_from_slice(&ip[16..20]);
                ((ip[0] & 0x0f) as usize) * 4
            }
            6 => {
                e.family = FAMILY_V6;
                e.protocol = ip[6];
                e.src.copy_from_slice(&ip[8..24]);
                e.dst.copy_from_slice(&ip[24..40]);
                40
            }
            _ => return Err(0),
        };
        if !matches!(e.protocol, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP) {
            return Err(0);
        }
        let mut l4h = [0u8; 14];
        bpf_probe_read_kernel_buf(ip_at.wrapping_add(l4), &mut l4h)?;
        e.src_port = u16::from_be_bytes([l4h[0], l4h[1]]);
        e.dst_port = u16::from_be_bytes([l4h[2], l4h[3]]);
        if e.protocol == IPPROTO_TCP {
            e.tcp_flags = l4h[13];
        }
        e.reason = reason;
        e.len = read(skb, global(&SKB_LEN)).unwrap_or(0);
        let dev: *const u8 = read(skb, global(&SKB_DEV)).unwrap_or(core::ptr::null());
        if !dev.is_null() {
            e.ifindex = read::<i32>(dev, global(&DEV_IFINDEX)).unwrap_or(0) as u32;
        }
        emit(&e);
        Ok(())
    }

    /// The kernel lets only GPL-compatible programs use the tracing helpers.
    #[link_section = "license"]
    #[no_mangle]
    static LICENSE: [u8; 4] = *b"GPL\0";

    #[panic_handler]
    fn panic(_info: &core::panic::PanicInfo) -> ! {
        loop {}
    }
}

#[cfg(not(target_arch = "bpf"))]
fn main() {}
