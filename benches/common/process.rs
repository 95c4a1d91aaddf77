//! The real binary in a process of its own: wall time and peak resident memory.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A finished run: wall time, the child's peak RSS (VmHWM, KiB) and its output (stdout is
/// empty when it went to /dev/null).
pub struct Run {
    pub wall: Duration,
    pub peak_kib: u64,
    pub output: Output,
}

/// Runs `cmd`, sampling the child's VmHWM until it exits. VmHWM is the child's own
/// high-water mark since exec (getrusage would count this process's memory, which the child
/// shares until exec); being a high-water mark, the last sample holds the peak up to then.
/// `discard`: stdout goes to /dev/null (outputs of gigabytes).
pub fn measure(mut cmd: Command, discard: bool) -> Run {
    let started = Instant::now();
    cmd.stdout(if discard {
        Stdio::null()
    } else {
        Stdio::piped()
    })
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the binary starts");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    // Drain the pipes on their own threads, so that a large output does not stall the child.
    let stdout = child.stdout.take().map(|mut s| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut s, &mut v).map(|_| v)
        })
    });
    let mut stderr_pipe = child.stderr.take().expect("piped");
    let stderr = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stderr_pipe, &mut v).map(|_| v)
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(v) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak_kib = peak_kib.max(v);
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = started.elapsed();
    let stdout = match stdout {
        Some(t) => t.join().expect("reader").expect("stdout"),
        None => Vec::new(),
    };
    let stderr = stderr.join().expect("reader").expect("stderr");
    Run {
        wall,
        peak_kib,
        output: Output {
            status,
            stdout,
            stderr,
        },
    }
}
