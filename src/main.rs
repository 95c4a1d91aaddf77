//! `kubectl netpol-tui`: the binary. Parses flags and hands over to the library.

use std::process::ExitCode;

/// Loading and compiling a cluster allocates many small objects, across threads.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    netpol_tui::cli::run(netpol_tui::cli::parse())
}
