//! The agent's stream: length-delimited frames (a big-endian u32 length, then the frame),
//! each starting with the wire version and a frame type.
//!
//! - `HELLO`: node name, kernel release, ring buffer size. First frame on every connection.
//! - `FLOWS`: a batch of flows with the datapath's verdict and the kernel's drop reason.
//! - `COUNTERS`: events the kernel could not queue (ring full), events this connection
//!   missed because it read too slowly, and events sent.
//!
//! A reader refuses frames of another version with an error naming both versions.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{Datapath, FlowEvent};
use crate::policy::Protocol;

pub const VERSION: u8 = 1;
/// Largest frame a reader accepts.
pub const MAX_FRAME: usize = 1 << 20;
/// Flows per `FLOWS` frame at most.
pub const MAX_BATCH: usize = 512;

const HELLO: u8 = 1;
const FLOWS: u8 = 2;
const COUNTERS: u8 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub node: String,
    pub kernel: String,
    pub ring_bytes: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Events the kernel dropped because the ring buffer was full (all CPUs).
    pub kernel_lost: u64,
    /// Events this reader missed because it fell behind.
    pub reader_lost: u64,
    /// Events the kernel queued.
    pub sent: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Hello(Hello),
    Flows(Vec<FlowEvent>),
    Counters(Counters),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("agent speaks wire version {0}, this build reads version {VERSION}")]
    Version(u8),
    #[error("frame type {0} is unknown")]
    Type(u8),
    #[error("frame ends early ({0})")]
    Short(&'static str),
    #[error("bad {0} in frame")]
    Bad(&'static str),
}

pub fn encode(frame: &Frame) -> Bytes {
    let mut b = BytesMut::with_capacity(64);
    b.put_u8(VERSION);
    match frame {
        Frame::Hello(h) => {
            b.put_u8(HELLO);
            put_str(&mut b, &h.node);
            put_str(&mut b, &h.kernel);
            b.put_u32(h.ring_bytes);
        }
        Frame::Flows(flows) => return encode_flows(flows),
        Frame::Counters(c) => {
            b.put_u8(COUNTERS);
            b.put_u64(c.kernel_lost);
            b.put_u64(c.reader_lost);
            b.put_u64(c.sent);
        }
    }
    b.freeze()
}

/// A `FLOWS` frame of `flows` (at most [`MAX_BATCH`] of them are expected).
pub fn encode_flows(flows: &[FlowEvent]) -> Bytes {
    let mut b = BytesMut::with_capacity(4 + flows.len() * 48);
    b.put_u8(VERSION);
    b.put_u8(FLOWS);
    b.put_u16(flows.len() as u16);
    for f in flows {
        b.put_u64(f.time_ms);
        put_ip(&mut b, f.src);
        put_ip(&mut b, f.dst);
        b.put_u8(match f.protocol {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        });
        b.put_u16(f.src_port);
        b.put_u16(f.dst_port);
        match &f.datapath {
            Datapath::Forwarded => b.put_u8(0),
            Datapath::Dropped { reason } => {
                b.put_u8(1);
                put_str(&mut b, reason);
            }
        }
    }
    b.freeze()
}

pub fn decode(mut b: &[u8]) -> Result<Frame, WireError> {
    let version = get_u8(&mut b, "version")?;
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    match get_u8(&mut b, "type")? {
        HELLO => Ok(Frame::Hello(Hello {
            node: get_str(&mut b)?,
            kernel: get_str(&mut b)?,
            ring_bytes: need(&mut b, 4, "ring size")?.get_u32(),
        })),
        FLOWS => {
            let n = need(&mut b, 2, "count")?.get_u16() as usize;
            let mut flows = Vec::with_capacity(n.min(MAX_BATCH));
            for _ in 0..n {
                let time_ms = need(&mut b, 8, "time")?.get_u64();
                let src = get_ip(&mut b)?;
                let dst = get_ip(&mut b)?;
                let protocol = match get_u8(&mut b, "protocol")? {
                    6 => Protocol::Tcp,
                    17 => Protocol::Udp,
                    132 => Protocol::Sctp,
                    _ => return Err(WireError::Bad("protocol")),
                };
                let src_port = need(&mut b, 2, "port")?.get_u16();
                let dst_port = need(&mut b, 2, "port")?.get_u16();
                let datapath = match get_u8(&mut b, "datapath")? {
                    0 => Datapath::Forwarded,
                    1 => Datapath::Dropped {
                        reason: get_str(&mut b)?,
                    },
                    _ => return Err(WireError::Bad("datapath")),
                };
                flows.push(FlowEvent {
                    time_ms,
                    src,
                    dst,
                    protocol,
                    src_port,
                    dst_port,
                    datapath,
                });
            }
            Ok(Frame::Flows(flows))
        }
        COUNTERS => {
            let b = need(&mut b, 24, "counters")?;
            Ok(Frame::Counters(Counters {
                kernel_lost: b.get_u64(),
                reader_lost: b.get_u64(),
                sent: b.get_u64(),
            }))
        }
        other => Err(WireError::Type(other)),
    }
}

/// The length-delimited codec both ends use.
pub fn codec() -> tokio_util::codec::LengthDelimitedCodec {
    tokio_util::codec::LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME)
        .new_codec()
}

fn need<'a, 'b>(
    b: &'a mut &'b [u8],
    n: usize,
    what: &'static str,
) -> Result<&'a mut &'b [u8], WireError> {
    if b.remaining() < n {
        return Err(WireError::Short(what));
    }
    Ok(b)
}

fn get_u8(b: &mut &[u8], what: &'static str) -> Result<u8, WireError> {
    Ok(need(b, 1, what)?.get_u8())
}

fn put_str(b: &mut BytesMut, s: &str) {
    let s = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    b.put_u16(s.len() as u16);
    b.put_slice(s);
}

fn get_str(b: &mut &[u8]) -> Result<String, WireError> {
    let n = need(b, 2, "string")?.get_u16() as usize;
    let bytes = need(b, n, "string")?;
    let s = std::str::from_utf8(&bytes[..n]).map_err(|_| WireError::Bad("string"))?;
    let s = s.to_string();
    bytes.advance(n);
    Ok(s)
}

fn put_ip(b: &mut BytesMut, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            b.put_u8(4);
            b.put_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            b.put_u8(6);
            b.put_slice(&v6.octets());
        }
    }
}

fn get_ip(b: &mut &[u8]) -> Result<IpAddr, WireError> {
    match get_u8(b, "address")? {
        4 => {
            let mut o = [0u8; 4];
            need(b, 4, "address")?.copy_to_slice(&mut o);
            Ok(IpAddr::V4(Ipv4Addr::from(o)))
        }
        6 => {
            let mut o = [0u8; 16];
            need(b, 16, "address")?.copy_to_slice(&mut o);
            Ok(IpAddr::V6(Ipv6Addr::from(o)))
        }
        _ => Err(WireError::Bad("address family")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bad_input_is_an_error() {
        let flows = vec![
            FlowEvent {
                time_ms: 1_795_348_800_123,
                src: "10.244.1.10".parse().unwrap(),
                dst: "fd00:10:244:1::11".parse().unwrap(),
                protocol: Protocol::Udp,
                src_port: 5353,
                dst_port: 53,
                datapath: Datapath::Forwarded,
            },
            FlowEvent {
                time_ms: 7,
                src: "10.244.1.10".parse().unwrap(),
                dst: "10.244.2.10".parse().unwrap(),
                protocol: Protocol::Tcp,
                src_port: 41000,
                dst_port: 5432,
                datapath: Datapath::Dropped {
                    reason: "NETFILTER_DROP".into(),
                },
            },
        ];
        let frames = [
            Frame::Hello(Hello {
                node: "node-a".into(),
                kernel: "6.18.0".into(),
                ring_bytes: 1 << 22,
            }),
            Frame::Flows(flows),
            Frame::Counters(Counters {
                kernel_lost: 3,
                reader_lost: 2,
                sent: 1000,
            }),
        ];
        for f in &frames {
            let bytes = encode(f);
            assert_eq!(&decode(&bytes).unwrap(), f);
            // Every truncation is an error, never a panic or a wrong frame.
            for cut in 0..bytes.len() {
                assert!(decode(&bytes[..cut]).is_err(), "{f:?} cut at {cut}");
            }
        }
        let mut other = encode(&frames[2]).to_vec();
        other[0] = 9;
        assert_eq!(decode(&other), Err(WireError::Version(9)));
    }
}
