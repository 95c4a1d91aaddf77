//! The records the kernel programs write and the loader reads. Every type is `repr(C)` with
//! explicit padding, so both sides agree on the layout byte for byte.
#![no_std]

/// Layout version of [`Event`]; the agent sends it in its hello frame.
pub const EVENT_VERSION: u8 = 1;

/// A packet of a new flow left a pod (seen at the ingress of the pod's host-side veth).
pub const KIND_FROM_POD: u8 = 1;
/// A packet of a new flow was handed to a pod (egress of the pod's host-side veth).
pub const KIND_TO_POD: u8 = 2;
/// The kernel freed a packet with a drop reason (tp_btf/kfree_skb).
pub const KIND_DROP: u8 = 3;

pub const FAMILY_V4: u8 = 4;
pub const FAMILY_V6: u8 = 6;

pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_SCTP: u8 = 132;

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

/// Slots of the per-CPU counter array.
pub const COUNTER_LOST: u32 = 0;
pub const COUNTER_SENT: u32 = 1;
pub const COUNTER_DROPS_SEEN: u32 = 2;
pub const COUNTERS: u32 = 3;

/// Entries in the drop-reason filter: a reason number at or above it is always reported.
pub const MAX_REASONS: u32 = 1024;

/// One record on the ring buffer. Addresses are in network order; IPv4 uses the first
/// four bytes. Ports are in host order.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Monotonic clock (`bpf_ktime_get_ns`).
    pub ts_ns: u64,
    pub kind: u8,
    pub family: u8,
    pub protocol: u8,
    /// TCP flags of the packet (0 for other protocols).
    pub tcp_flags: u8,
    /// The device: the veth for flow events, `skb->dev` for drops (0 when it had none).
    pub ifindex: u32,
    /// `enum skb_drop_reason` of the running kernel, for drops.
    pub reason: u32,
    pub src_port: u16,
    pub dst_port: u16,
    /// Length of the packet in bytes (the whole frame as the hook saw it).
    pub len: u32,
    pub _pad: u32,
    pub src: [u8; 16],
    pub dst: [u8; 16],
}

/// A flow as the classifiers key it: its tuple with the lower (address, port) first, so
/// both directions share the entry; [`FlowState::seen`] says which side began.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub src_port: u16,
    pub dst_port: u16,
    pub family: u8,
    pub protocol: u8,
    pub _pad: [u8; 2],
}

/// What the classifiers remember of one flow, in an LRU hash map: only which hooks have
/// reported it and which side began. No counters: a packet of a flow already reported then
/// costs a lookup and no store, so no cache line moves between CPUs per packet.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowState {
    /// Hooks that have reported the flow: bit 0 from-pod, bit 1 to-pod; bit 7 set when the
    /// initiator is the key's `src`.
    pub seen: u8,
    pub _pad: [u8; 7],
}

#[cfg(feature = "user")]
mod user {
    // SAFETY: plain repr(C) data with explicit padding and no pointers; every bit pattern
    // is a valid value.
    unsafe impl aya::Pod for super::Event {}
    unsafe impl aya::Pod for super::FlowKey {}
    unsafe impl aya::Pod for super::FlowState {}
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn layouts_have_no_hidden_padding() {
        assert_eq!(core::mem::size_of::<Event>(), 64);
        assert_eq!(core::mem::size_of::<FlowKey>(), 40);
        assert_eq!(core::mem::size_of::<FlowState>(), 8);
    }
}
