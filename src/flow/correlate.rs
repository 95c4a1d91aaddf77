//! Turns what the kernel hooks report into one [`FlowEvent`] per observation.
//!
//! A packet leaving a pod is seen at its veth before the node decides its fate. The flow is
//! forwarded once the packet reaches the destination pod's veth, dropped when the kernel
//! frees it with a drop reason, and taken as forwarded (it left the node) when neither
//! happens within the hold time. Nothing here reads a clock: times come in with the events.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{Datapath, FlowEvent};
use crate::policy::Protocol;

/// Where the kernel saw the packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A new flow leaving a pod (ingress of its host-side veth).
    FromPod,
    /// A new flow handed to a pod (egress of its host-side veth).
    ToPod,
    /// Freed by the kernel with this drop reason.
    Dropped(String),
}

/// One kernel event with its addresses decoded and its drop reason named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    pub time_ms: u64,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: Protocol,
    pub src_port: u16,
    pub dst_port: u16,
    pub seen: Seen,
}

type Tuple = (IpAddr, IpAddr, u16, u16, Protocol);

#[derive(Debug)]
pub struct Correlator {
    pending: HashMap<Tuple, RawEvent>,
    hold_ms: u64,
}

impl Correlator {
    /// How long a packet that left a pod may take to be delivered or dropped.
    pub const HOLD_MS: u64 = 200;

    pub fn new(hold_ms: u64) -> Correlator {
        Correlator {
            pending: HashMap::new(),
            hold_ms,
        }
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    pub fn push(&mut self, e: RawEvent, out: &mut Vec<FlowEvent>) {
        let tuple = (e.src, e.dst, e.src_port, e.dst_port, e.protocol);
        match e.seen {
            Seen::FromPod => {
                self.pending.entry(tuple).or_insert(e);
            }
            Seen::ToPod => {
                let first = self.pending.remove(&tuple).unwrap_or(e);
                out.push(flow(first, Datapath::Forwarded));
            }
            Seen::Dropped(ref reason) => {
                let datapath = Datapath::Dropped {
                    reason: reason.clone(),
                };
                let first = self.pending.remove(&tuple).unwrap_or(e);
                out.push(flow(first, datapath));
            }
        }
    }

    /// Flows that left a pod longer than the hold time ago and were neither delivered
    /// here nor dropped: they left the node.
    pub fn expire(&mut self, now_ms: u64, out: &mut Vec<FlowEvent>) {
        let hold = self.hold_ms;
        let mut done: Vec<Tuple> = self
            .pending
            .iter()
            .filter(|(_, e)| e.time_ms + hold <= now_ms)
            .map(|(t, _)| *t)
            .collect();
        done.sort_by_key(|t| self.pending[t].time_ms);
        for t in done {
            if let Some(e) = self.pending.remove(&t) {
                out.push(flow(e, Datapath::Forwarded));
            }
        }
    }

    /// Everything still held, as forwarded (at the end of a stream).
    pub fn flush(&mut self, out: &mut Vec<FlowEvent>) {
        self.expire(u64::MAX - self.hold_ms, out);
    }
}

fn flow(e: RawEvent, datapath: Datapath) -> FlowEvent {
    FlowEvent {
        time_ms: e.time_ms,
        src: e.src,
        dst: e.dst,
        protocol: e.protocol,
        src_port: e.src_port,
        dst_port: e.dst_port,
        datapath,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(time_ms: u64, seen: Seen) -> RawEvent {
        RawEvent {
            time_ms,
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            protocol: Protocol::Tcp,
            src_port: 40000,
            dst_port: 80,
            seen,
        }
    }

    #[test]
    fn delivered_dropped_and_left_the_node() {
        let mut c = Correlator::new(200);
        let mut out = Vec::new();
        c.push(raw(1000, Seen::FromPod), &mut out);
        assert!(out.is_empty(), "held until its fate is known");
        c.push(raw(1001, Seen::ToPod), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].datapath, Datapath::Forwarded);
        assert_eq!(out[0].time_ms, 1000, "the time the flow started");

        out.clear();
        c.push(raw(2000, Seen::FromPod), &mut out);
        c.push(raw(2001, Seen::Dropped("NETFILTER_DROP".into())), &mut out);
        assert_eq!(
            out[0].datapath,
            Datapath::Dropped {
                reason: "NETFILTER_DROP".into()
            }
        );
        // A retransmission is dropped again: reported again, without a new FromPod.
        c.push(raw(3001, Seen::Dropped("NETFILTER_DROP".into())), &mut out);
        assert_eq!(out.len(), 2);

        out.clear();
        c.push(raw(4000, Seen::FromPod), &mut out);
        c.expire(4199, &mut out);
        assert!(out.is_empty());
        c.expire(4200, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].datapath, Datapath::Forwarded);
        assert_eq!(c.pending(), 0);
    }
}
