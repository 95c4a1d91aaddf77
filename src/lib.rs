//! netpol-tui: Kubernetes NetworkPolicy analysis. The engine (`policy`) is pure; sources
//! of the world (`cluster`) do the I/O; `cli` is the command line.

pub mod app;
pub mod cli;
pub mod cluster;
pub mod flow;
#[cfg(all(feature = "probe", target_os = "linux"))]
pub mod lab;
pub mod policy;
#[cfg(all(feature = "probe", target_os = "linux"))]
pub mod probe;
pub mod theme;
pub mod tui;

/// Wall-clock milliseconds since the epoch, for sync ages, ticks and flow times. Used by the
/// sources and the terminal loop only; the engine has no clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
