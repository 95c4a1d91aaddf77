//! The policy engine: the normalized model, compilation from Kubernetes API types, the
//! verdict index, `explain`, `effective` and the matrix.
//!
//! PURE: no I/O, no clock, no hash-order output. Must not import tokio, kube's client,
//! ratatui, crossterm or aya; it may use the plain data types of k8s-openapi.

pub mod audit;
pub mod calico;
pub mod calico_selector;
pub mod checks;
pub mod compile;
pub mod compile_cilium;
pub mod compile_tiers;
pub mod effective;
pub mod engine;
pub mod error;
pub mod explain;
pub mod explain_tiers;
pub mod istio;
pub mod lint;
pub mod model;
pub mod query;
pub mod reach;
pub mod selector;
pub mod service;
pub mod service_peer;
pub mod set;
pub mod tiers;
pub mod workload;

pub use engine::{
    By, Connectivity, Decision, Endpoint, EngineOptions, Exemption, Flow, Index, Matrix, PairPorts,
    PodId, PolicyId, PortSet, PortTable, RuleRef, Side, TierRef, Verdict,
};
pub use error::{Error, FieldErrors, Result};
pub use model::{Direction, Inventory, Policy, Protocol};
pub use set::PolicySet;
