//! netpol-tui: Kubernetes NetworkPolicy analysis. The engine (`policy`) is pure; sources
//! of the world (`cluster`) do the I/O; `cli` is the command line.

pub mod app;
pub mod cli;
pub mod cluster;
pub mod flow;
pub mod policy;
pub mod theme;
pub mod tui;
