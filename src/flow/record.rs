//! Recorded flows, read back: the JSON lines `trace -o json` prints, and the JSON lines of
//! Hubble (`hubble observe -o json` or `-o jsonpb`: a `flow` object, or the flow itself).
//! Only addresses, protocol, ports, the datapath's verdict and time are taken: annotations
//! are always worked out again, never trusted.
//!
//! Reads from any `BufRead`, line by line, in bounded memory: a line over 1 MiB is bad, and
//! bad lines are counted with their numbers (the first few kept with the reason), never a
//! crash. Opening files is the caller's business.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, BufRead, Read};
use std::net::IpAddr;

use serde::Deserialize;

use super::{Datapath, FlowEvent};
use crate::policy::Protocol;

/// Lines longer than this are bad.
pub const MAX_LINE: usize = 1 << 20;
/// How many bad lines are kept with their reason; the rest are only counted.
pub const KEPT_BAD: usize = 20;

/// What reading found besides the flows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadReport {
    pub lines: u64,
    pub flows: u64,
    /// Well-formed records that are not TCP, UDP or SCTP flows between addresses, by why.
    pub skipped: BTreeMap<&'static str, u64>,
    /// The first bad lines: number and what is wrong.
    pub bad: Vec<(u64, String)>,
    pub bad_lines: u64,
}

impl ReadReport {
    /// `read 1200 lines: 1187 flows; skipped 10 (not TCP, UDP or SCTP); 3 bad lines`.
    pub fn summary(&self) -> String {
        let mut out = format!("read {} lines: {} flows", self.lines, self.flows);
        for (why, n) in &self.skipped {
            out.push_str(&format!("; skipped {n} ({why})"));
        }
        if self.bad_lines > 0 {
            out.push_str(&format!("; {} bad lines", self.bad_lines));
        }
        out
    }
}

#[derive(Deserialize)]
struct Line<'a> {
    // `trace -o json`
    time_ms: Option<u64>,
    src_ip: Option<IpAddr>,
    dst_ip: Option<IpAddr>,
    #[serde(borrow)]
    protocol: Option<Cow<'a, str>>,
    src_port: Option<u16>,
    dst_port: Option<u16>,
    #[serde(borrow)]
    datapath: Option<Cow<'a, str>>,
    #[serde(borrow)]
    drop_reason: Option<Cow<'a, str>>,
    // Hubble, wrapped
    #[serde(borrow)]
    flow: Option<HubbleFlow<'a>>,
    // Hubble, bare
    #[serde(borrow, rename = "IP")]
    ip: Option<HubbleIp<'a>>,
    l4: Option<HubbleL4>,
    #[serde(borrow)]
    verdict: Option<Cow<'a, str>>,
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(borrow)]
    drop_reason_desc: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct HubbleFlow<'a> {
    #[serde(borrow, rename = "IP")]
    ip: Option<HubbleIp<'a>>,
    l4: Option<HubbleL4>,
    #[serde(borrow)]
    verdict: Option<Cow<'a, str>>,
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(borrow)]
    drop_reason_desc: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct HubbleIp<'a> {
    #[serde(borrow)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    destination: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct HubblePorts {
    source_port: Option<u32>,
    destination_port: Option<u32>,
}

#[derive(Deserialize)]
struct HubbleL4 {
    #[serde(rename = "TCP")]
    tcp: Option<HubblePorts>,
    #[serde(rename = "UDP")]
    udp: Option<HubblePorts>,
    #[serde(rename = "SCTP")]
    sctp: Option<HubblePorts>,
}

enum Parsed {
    Flow(FlowEvent),
    Skip(&'static str),
}

fn port(n: Option<u32>, what: &str) -> Result<u16, String> {
    match n {
        None | Some(0) => Err(format!("{what} is missing")),
        Some(n) => u16::try_from(n).map_err(|_| format!("{what} {n} is not a port")),
    }
}

fn hubble(
    ip: Option<HubbleIp>,
    l4: Option<HubbleL4>,
    verdict: Option<Cow<str>>,
    time: Option<Cow<str>>,
    drop_reason: Option<Cow<str>>,
) -> Result<Parsed, String> {
    let Some(ip) = ip else {
        return Ok(Parsed::Skip("no IP layer"));
    };
    let addr = |a: Option<Cow<str>>, what: &str| -> Result<IpAddr, String> {
        let a = a.ok_or_else(|| format!("IP.{what} is missing"))?;
        a.parse()
            .map_err(|_| format!("IP.{what} {a:?} is not an address"))
    };
    let src = addr(ip.source, "source")?;
    let dst = addr(ip.destination, "destination")?;
    let Some(l4) = l4 else {
        return Ok(Parsed::Skip("not TCP, UDP or SCTP"));
    };
    let (protocol, ports) = match (l4.tcp, l4.udp, l4.sctp) {
        (Some(p), _, _) => (Protocol::Tcp, p),
        (_, Some(p), _) => (Protocol::Udp, p),
        (_, _, Some(p)) => (Protocol::Sctp, p),
        _ => return Ok(Parsed::Skip("not TCP, UDP or SCTP")),
    };
    let datapath = match verdict.as_deref() {
        Some("FORWARDED" | "REDIRECTED" | "TRACED" | "TRANSLATED" | "AUDIT") => Datapath::Forwarded,
        Some("DROPPED") => Datapath::Dropped {
            reason: drop_reason
                .map(|r| r.into_owned())
                .unwrap_or_else(|| "DROPPED".into()),
        },
        Some("ERROR") => return Ok(Parsed::Skip("verdict ERROR")),
        Some(other) => return Err(format!("verdict {other:?} is not a Hubble verdict")),
        None => return Err("verdict is missing".into()),
    };
    let time_ms = match time {
        Some(t) => humantime::parse_rfc3339_weak(&t)
            .map_err(|e| format!("time {t:?}: {e}"))?
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        None => 0,
    };
    Ok(Parsed::Flow(FlowEvent {
        time_ms,
        src,
        dst,
        protocol,
        src_port: ports
            .source_port
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0),
        dst_port: port(ports.destination_port, "destination_port")?,
        datapath,
    }))
}

fn parse(line: &[u8]) -> Result<Parsed, String> {
    let l: Line = serde_json::from_slice(line).map_err(|e| format!("not a flow record: {e}"))?;
    if let Some(f) = l.flow {
        return hubble(f.ip, f.l4, f.verdict, f.time, f.drop_reason_desc);
    }
    if l.ip.is_some() || l.verdict.is_some() {
        return hubble(l.ip, l.l4, l.verdict, l.time, l.drop_reason_desc);
    }
    let src = l.src_ip.ok_or("src_ip is missing")?;
    let dst = l.dst_ip.ok_or("dst_ip is missing")?;
    let protocol = l.protocol.ok_or("protocol is missing")?;
    let protocol = Protocol::parse(&protocol)
        .ok_or_else(|| format!("protocol {protocol:?}: use TCP, UDP or SCTP"))?;
    let datapath = match l.datapath.as_deref() {
        Some("forwarded") => Datapath::Forwarded,
        Some("dropped") => Datapath::Dropped {
            reason: l
                .drop_reason
                .map(|r| r.into_owned())
                .unwrap_or_else(|| "unknown".into()),
        },
        Some(other) => return Err(format!("datapath {other:?}: forwarded or dropped")),
        None => return Err("datapath is missing".into()),
    };
    Ok(Parsed::Flow(FlowEvent {
        time_ms: l.time_ms.unwrap_or(0),
        src,
        dst,
        protocol,
        src_port: l.src_port.unwrap_or(0),
        dst_port: port(l.dst_port.map(u32::from), "dst_port")?,
        datapath,
    }))
}

/// Reads every line of `input`, handing each flow to `each`.
pub fn read<R: BufRead>(input: &mut R, mut each: impl FnMut(FlowEvent)) -> io::Result<ReadReport> {
    let mut report = ReadReport::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut *input)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        report.lines += 1;
        let line_no = report.lines;
        if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
            // Skip the rest of the long line without keeping it.
            let mut rest = Vec::new();
            loop {
                rest.clear();
                let m = (&mut *input).take(1 << 16).read_until(b'\n', &mut rest)?;
                if m == 0 || rest.last() == Some(&b'\n') {
                    break;
                }
            }
            bad(&mut report, line_no, "longer than 1 MiB".into());
            continue;
        }
        let text = buf.trim_ascii();
        if text.is_empty() {
            continue;
        }
        match parse(text) {
            Ok(Parsed::Flow(f)) => {
                report.flows += 1;
                each(f);
            }
            Ok(Parsed::Skip(why)) => *report.skipped.entry(why).or_default() += 1,
            Err(why) => bad(&mut report, line_no, why),
        }
    }
    Ok(report)
}

fn bad(report: &mut ReadReport, line: u64, why: String) {
    report.bad_lines += 1;
    if report.bad.len() < KEPT_BAD {
        report.bad.push((line, why));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str) -> (Vec<FlowEvent>, ReadReport) {
        let mut flows = Vec::new();
        let report = read(&mut text.as_bytes(), |f| flows.push(f)).expect("reads");
        (flows, report)
    }

    #[test]
    fn reads_trace_lines_and_both_hubble_shapes() {
        let text = concat!(
            r#"{"time_ms":1795367347619,"src":"production/frontend","dst":"production/database","src_ip":"10.244.1.10","dst_ip":"10.244.2.10","protocol":"TCP","src_port":44122,"dst_port":5432,"datapath":"dropped","drop_reason":"NETFILTER_DROP","outcome":"blocked_by_policy","policies":[],"explanation":"ignored"}"#,
            "\n",
            r#"{"flow":{"time":"2023-08-21T12:12:18.510175415Z","verdict":"DROPPED","IP":{"source":"10.244.1.60","destination":"10.244.1.5","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":44916,"destination_port":80,"flags":{"SYN":true}}},"drop_reason_desc":"POLICY_DENIED"},"node_name":"kind-worker","time":"2023-08-21T12:12:18.510175415Z"}"#,
            "\n",
            r#"{"time":"2023-08-21T12:12:19Z","verdict":"FORWARDED","IP":{"source":"fd00::1","destination":"fd00::2"},"l4":{"UDP":{"source_port":5353,"destination_port":53}}}"#,
            "\n\n",
            r#"{"flow":{"verdict":"DROPPED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"ICMPv4":{"type":8}}}}"#,
            "\n",
        );
        let (flows, report) = read_all(text);
        assert_eq!(report.lines, 5);
        assert_eq!(report.flows, 3);
        assert_eq!(report.skipped.get("not TCP, UDP or SCTP"), Some(&1));
        assert!(report.bad.is_empty(), "{:?}", report.bad);
        assert_eq!(flows[0].dst_port, 5432);
        assert_eq!(
            flows[0].datapath,
            Datapath::Dropped {
                reason: "NETFILTER_DROP".into()
            }
        );
        assert_eq!(flows[1].time_ms, 1692619938510);
        assert_eq!(flows[1].src_port, 44916);
        assert_eq!(
            flows[1].datapath,
            Datapath::Dropped {
                reason: "POLICY_DENIED".into()
            }
        );
        assert_eq!(flows[2].protocol, Protocol::Udp);
        assert_eq!(flows[2].datapath, Datapath::Forwarded);
        assert!(flows[2].src.is_ipv6());
    }

    #[test]
    fn bad_lines_are_counted_with_their_numbers() {
        let mut text = String::from("not json\n");
        text.push_str(r#"{"src_ip":"10.0.0.1","dst_ip":"10.0.0.2","protocol":"ICMP","dst_port":1,"datapath":"forwarded"}"#);
        text.push('\n');
        text.push_str(
            r#"{"flow":{"verdict":"DROPPED","IP":{"source":"x","destination":"10.0.0.2"}}}"#,
        );
        text.push('\n');
        text.push_str(&"x".repeat(MAX_LINE + 10));
        text.push('\n');
        text.push_str(r#"{"src_ip":"10.0.0.1","dst_ip":"10.0.0.2","protocol":"TCP","dst_port":99999,"datapath":"forwarded"}"#);
        let (flows, report) = read_all(&text);
        assert!(flows.is_empty());
        assert_eq!(report.bad_lines, 5);
        let lines: Vec<u64> = report.bad.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![1, 2, 3, 4, 5]);
        assert!(
            report.bad[1].1.contains("protocol \"ICMP\""),
            "{:?}",
            report.bad
        );
        assert!(
            report.bad[2].1.contains("IP.source \"x\""),
            "{:?}",
            report.bad
        );
        assert_eq!(report.bad[3].1, "longer than 1 MiB");
        assert!(report.bad[4].1.contains("99999"), "{:?}", report.bad);
    }
}
