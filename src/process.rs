//! The process: the async runtime that sources and loops run on, and the signals that end a
//! run. Shared by the command line and the terminal UI.

use std::time::Duration;

/// A signal that asks the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
    Hangup,
}

impl Signal {
    /// The exit status a shell reports for a process ended by this signal (128 + its number).
    pub fn exit_code(self) -> u8 {
        128 + match self {
            Signal::Hangup => 1,
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
        }
    }
}

/// The runtime every source and the UI loop run on: two workers, timers and I/O.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Completes with the first SIGINT, SIGTERM or SIGHUP. If the handlers cannot be installed it
/// never completes (the process then ends the default way, by the signal itself).
pub async fn signal() -> Signal {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut hup), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => Signal::Terminate,
        _ = hup.recv() => Signal::Hangup,
        _ = int.recv() => Signal::Interrupt,
    }
}

/// Completes after `duration` (`None`: never) or on a signal, saying which.
pub async fn until(duration: Option<Duration>) -> Option<Signal> {
    let sleep = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = sleep => None,
        s = signal() => Some(s),
    }
}
