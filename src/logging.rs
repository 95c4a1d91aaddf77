//! The log file: what a user attaches to a bug report. Never the terminal, which the UI owns.
//!
//! `NETPOL_TUI_LOG` sets the level in tracing's filter syntax (`debug`, `netpol_tui=trace`,
//! `off`); the default is `info` for this program and `warn` for its libraries.
//! `NETPOL_TUI_LOG_FILE` sets the path; the default is `netpol-tui/netpol-tui.log` in the
//! user's state folder (`~/.local/state` on Linux), else the cache folder. A file over 8 MiB
//! is moved to `.old` at start, so two files at most are kept.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use tracing_subscriber::EnvFilter;

pub const LEVEL_VAR: &str = "NETPOL_TUI_LOG";
pub const FILE_VAR: &str = "NETPOL_TUI_LOG_FILE";
const DEFAULT_FILTER: &str = "warn,netpol_tui=info";
const ROTATE_BYTES: u64 = 8 << 20;

/// Where the log goes, as the environment says.
pub fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(FILE_VAR).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    dirs::state_dir()
        .or_else(dirs::cache_dir)
        .map(|d| d.join("netpol-tui").join("netpol-tui.log"))
}

/// Starts logging to the file. Returns the path, or why there is no log (the program runs
/// on without one: a log must never stop it).
pub fn init() -> Result<Option<PathBuf>, String> {
    let filter = match std::env::var(LEVEL_VAR) {
        Ok(v) if v.trim().eq_ignore_ascii_case("off") => return Ok(None),
        Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(v.trim())
            .map_err(|e| format!("{LEVEL_VAR}={v:?} is not a log filter: {e}"))?,
        _ => EnvFilter::new(DEFAULT_FILTER),
    };
    let Some(path) = path() else {
        return Ok(None);
    };
    init_to(&path, filter)?;
    Ok(Some(path))
}

/// Starts logging to `path` with `filter`, for this process (once).
pub fn init_to(path: &Path, filter: EnvFilter) -> Result<(), String> {
    let file = open(path).map_err(|e| format!("cannot write the log {}: {e}", path.display()))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_target(true)
        .try_init()
        .map_err(|e| format!("cannot start logging: {e}"))?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        pid = std::process::id(),
        "start"
    );
    Ok(())
}

fn open(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if std::fs::metadata(path).is_ok_and(|m| m.len() > ROTATE_BYTES) {
        let mut old = path.as_os_str().to_owned();
        old.push(".old");
        std::fs::rename(path, old)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// The help text's words about the log, with the path this user would get.
pub fn help() -> String {
    let where_ = path()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "(no state or cache folder: set NETPOL_TUI_LOG_FILE)".into());
    format!(
        "Log: {where_} ({FILE_VAR} changes it); level from {LEVEL_VAR} (debug, info, warn, off; default info)."
    )
}
