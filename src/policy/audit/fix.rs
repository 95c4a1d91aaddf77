//! The fix for one denied flow (`explain --suggest`): the smallest NetworkPolicies that
//! would allow it, written by the audit's suggestion code (one implementation), then checked
//! by judging the flow again with them staged. A side denied by a tier policy or by Cilium's
//! deny rules cannot be opened by a NetworkPolicy: that is said, with the policy to change.

use std::sync::Arc;

use serde::Serialize;

use super::suggest::suggest;
use super::Audit;
use crate::policy::engine::{Flow, Index, Side};
use crate::policy::workload::Workloads;

#[derive(Debug, Clone, Serialize)]
pub struct Fix {
    /// The suggested policies, as NetworkPolicy objects ready to apply.
    pub policies: Vec<k8s_openapi::api::networking::v1::NetworkPolicy>,
    /// Whether the flow is allowed with them staged.
    pub allows: bool,
    /// What no NetworkPolicy can change, and what could not be written.
    pub notes: Vec<String>,
}

pub fn fix(index: &Index, flow: &Flow) -> Fix {
    let current = Arc::new(index.clone());
    let audit = Audit::new(current.clone(), &[]);
    let workloads = Workloads::new(index.inventory());
    let suggestion = suggest(&audit, &workloads, &[*flow]);
    let mut notes = suggestion.notes.clone();
    let verdict = index.verdict(flow);
    for (side, what) in [(&verdict.egress, "egress"), (&verdict.ingress, "ingress")] {
        match side {
            Side::TierDenied(r) => {
                let policy = &index.policies().tiers[r.policy as usize];
                notes.push(format!(
                    "{what} is denied by {} ({} tier): no NetworkPolicy can allow it; that \
                     policy must change",
                    policy.key(),
                    policy.tier
                ));
            }
            Side::TierEnd { selecting, .. } if !selecting.is_empty() => {
                let names: Vec<String> = selecting
                    .iter()
                    .map(|&t| index.policies().tiers[t as usize].key())
                    .collect();
                let tier = index.policies().calico_tier_end(selecting[0]);
                let or = if index.policies().tiers[selecting[0] as usize]
                    .tier
                    .is_calico_default()
                {
                    " (or a NetworkPolicy's)"
                } else {
                    ""
                };
                notes.push(format!(
                    "{what} is denied at the end of {tier}, which {} select: a Calico Allow \
                     rule there{or} must admit it",
                    names.join(", ")
                ));
            }
            Side::Unknown { .. } | Side::TierUnknown { .. } | Side::TierEnd { .. } => notes.push(
                format!("{what} is unknown: what cannot be read may already allow or deny it"),
            ),
            _ => {}
        }
    }
    let staged = suggestion.staged();
    let allows = Audit::new(current, &staged).staged.verdict(flow).allowed();
    Fix {
        policies: suggestion
            .policies
            .into_iter()
            .map(|s| s.manifest)
            .collect(),
        allows,
        notes,
    }
}
