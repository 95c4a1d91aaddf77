//! The agent's server: every connection gets a hello frame, then every batch of flows and
//! the counters, in the frames of [`crate::flow::wire`]. A reader that falls behind loses
//! batches (its own count says how many flows), never slows the probe or other readers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::SinkExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::codec::FramedWrite;

use super::Output;
use crate::flow::wire::{self, Counters, Frame, Hello};

/// Frames queued per reader before it starts losing them.
const READER_QUEUE: usize = 1024;

struct Reader {
    tx: mpsc::Sender<Bytes>,
    lost: Arc<AtomicU64>,
}

/// Fans the probe's output out to the connected readers.
#[derive(Clone)]
pub struct Hub {
    readers: Arc<Mutex<Vec<Reader>>>,
    hello: Arc<Hello>,
}

impl Hub {
    pub fn new(hello: Hello) -> Hub {
        Hub {
            readers: Arc::new(Mutex::new(Vec::new())),
            hello: Arc::new(hello),
        }
    }

    /// Sends one piece of the probe's output to every reader.
    pub fn publish(&self, out: &Output) {
        let Ok(mut readers) = self.readers.lock() else {
            return;
        };
        match out {
            Output::Flows(flows) => {
                for chunk in flows.chunks(wire::MAX_BATCH) {
                    let frame = wire::encode_flows(chunk);
                    readers.retain(|r| match r.tx.try_send(frame.clone()) {
                        Ok(()) => true,
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            r.lost.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                            true
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => false,
                    });
                }
            }
            Output::Counters(c) => {
                readers.retain(|r| {
                    let frame = wire::encode(&Frame::Counters(Counters {
                        reader_lost: r.lost.load(Ordering::Relaxed),
                        ..*c
                    }));
                    !matches!(
                        r.tx.try_send(frame),
                        Err(mpsc::error::TrySendError::Closed(_))
                    )
                });
            }
            Output::Link(_) => {}
        }
    }

    /// Accepts readers on `listener` until the task is dropped.
    pub async fn serve(self, listener: TcpListener) {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let _ = socket.set_nodelay(true);
            let (tx, mut rx) = mpsc::channel::<Bytes>(READER_QUEUE);
            let hello = wire::encode(&Frame::Hello((*self.hello).clone()));
            if let Ok(mut readers) = self.readers.lock() {
                readers.push(Reader {
                    tx,
                    lost: Arc::new(AtomicU64::new(0)),
                });
            }
            tokio::spawn(async move {
                let mut out = FramedWrite::new(socket, wire::codec());
                if out.send(hello).await.is_err() {
                    return;
                }
                while let Some(frame) = rx.recv().await {
                    if out.feed(frame).await.is_err() {
                        return;
                    }
                    // Send what is queued in one write, then flush.
                    while let Ok(more) = rx.try_recv() {
                        if out.feed(more).await.is_err() {
                            return;
                        }
                    }
                    if SinkExt::<Bytes>::flush(&mut out).await.is_err() {
                        return;
                    }
                }
            });
        }
    }
}

/// The agent listens on loopback only: remote readers come through a port-forward.
pub fn check_listen(addr: &SocketAddr) -> Result<(), String> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(format!(
            "--listen {addr}: the agent listens on loopback only (127.0.0.1 or ::1); \
             readers on other machines connect through kubectl port-forward"
        ))
    }
}
