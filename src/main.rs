//! `kubectl netpol-tui`: the binary. Parses flags and hands over to the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    netpol_tui::cli::run(netpol_tui::cli::parse())
}
