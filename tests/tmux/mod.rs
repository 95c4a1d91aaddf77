//! The real binary in a real terminal, for the end-to-end tests: tmux runs it, keys go in
//! with send-keys, the screen comes back with capture-pane. Needs tmux (scripts/test.sh
//! installs it); without it the tests fail, they do not skip.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
    status: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    /// Starts `args` of the binary in a detached tmux session of the given size.
    pub fn start(name: &str, width: u16, height: u16, args: &str) -> Tmux {
        Tmux::start_in(name, width, height, args, None)
    }

    /// Like `start`, with `cwd` as the program's working folder.
    pub fn start_in(
        name: &str,
        width: u16,
        height: u16,
        args: &str,
        cwd: Option<&std::path::Path>,
    ) -> Tmux {
        let bin = env!("CARGO_BIN_EXE_kubectl-netpol_tui");
        Tmux::run(name, width, height, &format!("{bin} {args}"), cwd)
    }

    /// Runs a shell command line (one that runs the binary inside something else, such as
    /// `ip netns exec` or `setpriv`) in a detached tmux session of the given size.
    pub fn run(
        name: &str,
        width: u16,
        height: u16,
        command: &str,
        cwd: Option<&std::path::Path>,
    ) -> Tmux {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = dir.path().join("status");
        let socket = format!("netpol-e2e-{name}-{}", std::process::id());
        // After the program ends, its exit code is written and the pane stays, so the
        // screen left behind can be checked.
        let script = format!(
            "{command}; echo \"exit=$?\" > {status}; echo PROGRAM-ENDED; sleep 30",
            status = status.display()
        );
        let ok = Command::new("tmux")
            .current_dir(cwd.unwrap_or(std::path::Path::new(".")))
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "e2e",
            ])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .args([
                "env",
                "TERM=xterm-256color",
                "NETPOL_TUI_THEME_DIR=/nonexistent",
                "NETPOL_TUI_CONFIG_DIR=/nonexistent",
                "sh",
                "-c",
                &script,
            ])
            .status()
            .unwrap_or_else(|e| panic!("tmux is needed for this test and could not run: {e}"));
        assert!(ok.success(), "tmux new-session failed");
        Tmux {
            socket,
            status,
            _dir: dir,
        }
    }

    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "e2e", k]);
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Text typed literally.
    pub fn text(&self, s: &str) {
        self.tmux(&["send-keys", "-t", "e2e", "-l", s]);
        std::thread::sleep(Duration::from_millis(100));
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-t", "e2e", "-p"])
    }

    /// The screen with its colours, as escape sequences.
    pub fn screen_with_colours(&self) -> String {
        self.tmux(&["capture-pane", "-t", "e2e", "-p", "-e"])
    }

    /// Waits until the screen shows `needle`; fails with the screen after 15 s.
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_until(&format!("{needle:?}"), 15, &|s| s.contains(needle))
    }

    /// Waits until `ok` says the screen shows `what`; fails with the screen after `secs`.
    pub fn wait_until(&self, what: &str, secs: u64, ok: &dyn Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if start.elapsed() > Duration::from_secs(secs) {
                panic!("waited {secs} s for {what}; the screen is:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `:WORDS` and Enter.
    pub fn command(&self, words: &str) {
        self.keys(&[":"]);
        self.text(words);
        self.keys(&["Enter"]);
    }

    pub fn exit_code(&self) -> String {
        let start = Instant::now();
        loop {
            // The shell creates the file, then writes it: an empty read is too early.
            if let Ok(s) = std::fs::read_to_string(&self.status) {
                if !s.trim().is_empty() {
                    return s.trim().to_string();
                }
            }
            if start.elapsed() > Duration::from_secs(15) {
                panic!(
                    "the program did not exit; the screen is:\n{}",
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn pid(&self) -> String {
        // The pane runs sh; the program is its child.
        let shell = self.tmux(&["display-message", "-p", "-t", "e2e", "#{pane_pid}"]);
        let out = Command::new("pgrep")
            .args(["-P", shell.trim()])
            .output()
            .expect("pgrep runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_else(|| panic!("no child of the pane's shell {}", shell.trim()))
            .to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}
