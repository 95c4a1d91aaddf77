//! The command line on big manifests: loading, `lint`, `matrix` in every output form, every
//! port at once by workload and by pod, and `effective -A -o json`, at 10k and 30k pods, each in a process of its own with its wall
//! time and peak resident memory (VmHWM). Outputs of gigabytes go to /dev/null: what is
//! measured is that they are written in bounded memory.
//!
//! Run with `scripts/bench.sh cli`. `CLI_BENCH_SIZES=10000` narrows the sizes;
//! `CLI_BENCH_DIR=PATH` keeps the manifests there.

#[path = "common/process.rs"]
mod process;

use std::process::Command;
use std::time::Duration;

use netpol_tui::cluster::synthetic::{generate, manifests, Shape};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs the binary with `args` `runs` times; prints the median wall time and the peak RSS.
fn bench(label: &str, args: &[&str], discard: bool, runs: usize, exit: i32) -> process::Run {
    let exe = env!("CARGO_BIN_EXE_kubectl-netpol_tui");
    let mut walls = Vec::new();
    let mut peak = 0;
    let mut last = None;
    for _ in 0..runs {
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .env("NETPOL_TUI_LOG", "off")
            .env("NO_COLOR", "1");
        let run = process::measure(cmd, discard);
        assert!(
            run.output.status.code() == Some(exit)
                || (exit == 0 && run.output.status.code() == Some(3)),
            "{label}: {}",
            String::from_utf8_lossy(&run.output.stderr)
        );
        walls.push(run.wall);
        peak = peak.max(run.peak_kib);
        last = Some(run);
    }
    println!(
        "  {label:<44} median {:>8.2} s   peak RSS {:>7.1} MiB  ({runs} run{})",
        median(walls).as_secs_f64(),
        peak as f64 / 1024.0,
        if runs == 1 { "" } else { "s" }
    );
    last.expect("at least one run")
}

fn main() {
    let sizes: Vec<usize> = std::env::var("CLI_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 30_000]);
    // `CLI_BENCH_DIR`: keep the manifests there (for profiling by hand).
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = std::env::var_os("CLI_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| temp.path().to_path_buf());
    // Hostile nesting: 200k levels of `[` (400 KB) are refused at once, with the line.
    let deep = dir.join("deep.yaml");
    std::fs::write(&deep, "[".repeat(200_000)).expect("write");
    let run = bench(
        "200k nested `[` (refused)",
        &["status", "-f", deep.to_str().expect("utf-8 path")],
        false,
        3,
        2,
    );
    assert!(String::from_utf8_lossy(&run.output.stderr).contains("nested more than 128 levels"));
    for pods in sizes {
        let policies = pods / 5;
        let world = generate(Shape::new(pods, policies));
        let path = dir.join(format!("cluster-{pods}.yaml"));
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        manifests(&world, &mut file).expect("write manifests");
        drop(file);
        let size = std::fs::metadata(&path).expect("written").len();
        println!(
            "{pods} pods, {policies} policies, {} namespaces: {:.1} MB of YAML",
            world.inventory.namespaces.len(),
            size as f64 / 1e6
        );
        let f = path.to_str().expect("utf-8 path");
        let runs = if pods <= 10_000 { 3 } else { 1 };
        let status = bench("load (status -f)", &["status", "-f", f], false, runs, 0);
        assert!(
            String::from_utf8_lossy(&status.output.stdout).contains(&format!("{pods} pods")),
            "{}",
            String::from_utf8_lossy(&status.output.stdout)
        );
        bench(
            "effective -A -o json",
            &["effective", "-A", "-o", "json", "-f", f],
            true,
            runs,
            0,
        );
        bench(
            "lint -o json",
            &["lint", "-o", "json", "--fail-on", "never", "-f", f],
            true,
            runs,
            0,
        );
        bench(
            "matrix -p 8080 -o csv",
            &["matrix", "-p", "8080", "-o", "csv", "-f", f],
            true,
            1,
            0,
        );
        bench(
            "matrix --all-ports --by workload -o json",
            &[
                "matrix",
                "--all-ports",
                "--by",
                "workload",
                "-o",
                "json",
                "-f",
                f,
            ],
            true,
            runs,
            0,
        );
        if pods <= 10_000 {
            bench(
                "matrix --all-ports -o csv (every pod pair)",
                &["matrix", "--all-ports", "-o", "csv", "-f", f],
                true,
                1,
                0,
            );
            bench(
                "matrix -p 8080 -o json",
                &["matrix", "-p", "8080", "-o", "json", "-f", f],
                true,
                1,
                0,
            );
            bench(
                "matrix -p 8080 (text)",
                &["matrix", "-p", "8080", "-f", f],
                true,
                1,
                0,
            );
        }
    }
}
