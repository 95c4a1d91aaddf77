//! What the probe needs to know about the running kernel, read from its BTF: where
//! `sk_buff` and `net_device` keep the fields the drop hook reads, and the names of
//! `enum skb_drop_reason`, whose numbers change between kernels.

use std::collections::BTreeMap;
use std::path::Path;

use btf_rs::{Btf, Type};

use super::ProbeError;

pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// Drop reasons that are part of normal operation rather than a packet being refused:
/// sockets purging their queues on close, TCP discarding what it already has, and the like.
/// The kernel program ignores them.
pub const BENIGN_REASONS: &[&str] = &[
    "SKB_CONSUMED",
    "QUEUE_PURGE",
    "SOCKET_CLOSE",
    "TCP_CLOSE",
    "TCP_OLD_DATA",
    "TCP_OLD_SEQUENCE",
    "TCP_OLD_ACK",
    "TCP_OFOMERGE",
    "TCP_ZEROWINDOW",
    "TCP_ACK_UNSENT_DATA",
    "DUP_FRAG",
    "SOCKET_RCVBUFF",
    "PROTO_MEM",
    "SKB_UNUSABLE",
];

/// Byte offsets of the fields the drop hook reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offsets {
    pub skb_head: u32,
    pub skb_network_header: u32,
    pub skb_len: u32,
    pub skb_dev: u32,
    pub dev_ifindex: u32,
}

#[derive(Debug, Clone)]
pub struct KernelFacts {
    pub offsets: Offsets,
    /// `enum skb_drop_reason`, by number, without the `SKB_DROP_REASON_` prefix.
    pub reasons: BTreeMap<u32, String>,
}

impl KernelFacts {
    pub fn read() -> Result<KernelFacts, ProbeError> {
        KernelFacts::read_from(Path::new(VMLINUX))
    }

    pub fn read_from(path: &Path) -> Result<KernelFacts, ProbeError> {
        if !path.exists() {
            return Err(ProbeError::NoBtf(format!(
                "{} does not exist: the kernel was built without CONFIG_DEBUG_INFO_BTF",
                path.display()
            )));
        }
        let btf = Btf::from_file(path)
            .map_err(|e| ProbeError::NoBtf(format!("{}: {e}", path.display())))?;
        let offsets = Offsets {
            skb_head: member_offset(&btf, "sk_buff", "head")?,
            skb_network_header: member_offset(&btf, "sk_buff", "network_header")?,
            skb_len: member_offset(&btf, "sk_buff", "len")?,
            skb_dev: member_offset(&btf, "sk_buff", "dev")?,
            dev_ifindex: member_offset(&btf, "net_device", "ifindex")?,
        };
        Ok(KernelFacts {
            offsets,
            reasons: drop_reasons(&btf)?,
        })
    }

    pub fn reason_name(&self, reason: u32) -> String {
        match self.reasons.get(&reason) {
            Some(name) => name.clone(),
            None => format!("REASON_{reason}"),
        }
    }

    /// The numbers of [`BENIGN_REASONS`] on this kernel.
    pub fn benign(&self) -> Vec<u32> {
        self.reasons
            .iter()
            .filter(|(_, name)| BENIGN_REASONS.contains(&name.as_str()))
            .map(|(&n, _)| n)
            .collect()
    }
}

fn structure(btf: &Btf, name: &str) -> Result<btf_rs::Struct, ProbeError> {
    let types = btf
        .resolve_types_by_name(name)
        .map_err(|e| ProbeError::NoBtf(format!("struct {name}: {e}")))?;
    types
        .into_iter()
        .find_map(|t| match t {
            Type::Struct(s) if !s.members.is_empty() => Some(s),
            _ => None,
        })
        .ok_or_else(|| ProbeError::NoBtf(format!("struct {name} not found in the kernel's BTF")))
}

/// The byte offset of `field` in `struct name`, looking into anonymous structs and unions
/// (`network_header` sits in one inside `sk_buff`).
fn member_offset(btf: &Btf, name: &str, field: &str) -> Result<u32, ProbeError> {
    let s = structure(btf, name)?;
    find_member(btf, &s, field, 0, 0)?
        .map(|bits| bits / 8)
        .ok_or_else(|| ProbeError::NoBtf(format!("struct {name} has no field {field}")))
}

fn find_member(
    btf: &Btf,
    s: &btf_rs::Struct,
    field: &str,
    base_bits: u32,
    depth: u32,
) -> Result<Option<u32>, ProbeError> {
    let err = |e: btf_rs::Error| ProbeError::NoBtf(format!("reading BTF: {e}"));
    for m in &s.members {
        let name = btf.resolve_name(m).map_err(err)?;
        let at = base_bits + m.bit_offset();
        if name == field {
            return Ok(Some(at));
        }
        if name.is_empty() && depth < 4 {
            let mut t = btf.resolve_chained_type(m).map_err(err)?;
            // Anonymous members are plain structs or unions, perhaps behind qualifiers.
            while let Type::Const(_) | Type::Volatile(_) | Type::Typedef(_) = t {
                let Some(inner) = t.as_btf_type() else { break };
                t = btf.resolve_chained_type(inner).map_err(err)?;
            }
            if let Type::Struct(inner) | Type::Union(inner) = t {
                if let Some(found) = find_member(btf, &inner, field, at, depth + 1)? {
                    return Ok(Some(found));
                }
            }
        }
    }
    Ok(None)
}

fn drop_reasons(btf: &Btf) -> Result<BTreeMap<u32, String>, ProbeError> {
    let err = |e: btf_rs::Error| ProbeError::NoBtf(format!("enum skb_drop_reason: {e}"));
    let types = btf.resolve_types_by_name("skb_drop_reason").map_err(err)?;
    let mut out = BTreeMap::new();
    for t in types {
        if let Type::Enum(e) = t {
            for m in &e.members {
                let name = btf.resolve_name(m).map_err(err)?;
                let short = name.strip_prefix("SKB_DROP_REASON_").unwrap_or(&name);
                out.insert(m.val(), short.to_string());
            }
        }
    }
    if out.is_empty() {
        return Err(ProbeError::NoBtf(
            "enum skb_drop_reason not found in the kernel's BTF".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads this machine's kernel: the probe is useless without these facts, so a kernel
    /// without BTF fails here rather than passing quietly.
    #[test]
    fn reads_offsets_and_reasons_of_the_running_kernel() {
        let facts = KernelFacts::read().expect("kernel BTF");
        let o = facts.offsets;
        assert!(o.skb_head > 0 && o.skb_network_header > 0 && o.skb_dev < o.skb_head);
        assert!(o.dev_ifindex > 0);
        let names: Vec<&str> = facts.reasons.values().map(String::as_str).collect();
        for want in ["NOT_SPECIFIED", "NETFILTER_DROP", "NO_SOCKET"] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        assert!(facts.benign().len() >= 3);
    }
}
