//! netpol-tui: Kubernetes NetworkPolicy analysis. The engine (`policy`) is pure; sources
//! of the world (`cluster`, `flow`, `probe`) do the I/O; `render` writes the engine's answers
//! as text; `app` is the UI's state, `tui` the terminal, `cli` the command line.
//!
//! Layers, each importing only those below it: `cli` > `tui` > `app` > `cluster`, `flow`,
//! `probe`, `lab`, `render`, `theme`, `process`, `logging` > `policy`.

pub mod app;
pub mod cli;
pub mod cluster;
pub mod flow;
#[cfg(all(feature = "probe", target_os = "linux"))]
pub mod lab;
pub mod logging;
pub mod policy;
#[cfg(all(feature = "probe", target_os = "linux"))]
pub mod probe;
pub mod process;
pub mod render;
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
