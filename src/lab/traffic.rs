//! Servers on the lab pods' container ports, and a generator that has every pod try every
//! other pod's ports, over each address family both ends have, once per round. Each pod
//! gets one thread living in its network namespace with a small runtime of its own.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::{enter_netns, LabPod};
use crate::policy::Protocol;

/// What the generator did (attempts, and those that got an answer).
#[derive(Debug, Default)]
pub struct Tally {
    pub attempts: AtomicU64,
    pub answered: AtomicU64,
}

/// One target of the generator.
#[derive(Debug, Clone, Copy)]
struct Target {
    addr: SocketAddr,
    protocol: Protocol,
}

/// Starts a thread per pod; they end when `stop` is set.
pub fn start(
    pods: &[LabPod],
    round: Duration,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> Vec<JoinHandle<()>> {
    pods.iter()
        .map(|pod| {
            let targets = targets_of(pod, pods);
            let pod = pod.clone();
            let stop = stop.clone();
            let tally = tally.clone();
            std::thread::Builder::new()
                .name(format!("lab-{}", pod.netns))
                .spawn(move || {
                    if let Err(e) = enter_netns(&pod.netns) {
                        eprintln!("{e}");
                        return;
                    }
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            eprintln!("lab: runtime for {}: {e}", pod.key);
                            return;
                        }
                    };
                    rt.block_on(pod_main(pod, targets, round, stop, tally));
                })
                .expect("spawn a lab thread")
        })
        .collect()
}

fn targets_of(pod: &LabPod, all: &[LabPod]) -> Vec<Target> {
    let mut out = Vec::new();
    for other in all.iter().filter(|o| o.id != pod.id) {
        for port in &other.ports {
            if port.protocol == Protocol::Sctp {
                continue;
            }
            for ip in &other.ips {
                if pod.ips.iter().any(|mine| mine.is_ipv4() == ip.is_ipv4()) {
                    out.push(Target {
                        addr: SocketAddr::new(*ip, port.port),
                        protocol: port.protocol,
                    });
                }
            }
        }
    }
    out
}

async fn pod_main(
    pod: LabPod,
    targets: Vec<Target>,
    round: Duration,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    for port in &pod.ports {
        let any = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port.port);
        match port.protocol {
            Protocol::Tcp => match TcpListener::bind(any).await {
                Ok(l) => {
                    tokio::spawn(serve_tcp(l));
                }
                Err(e) => eprintln!("lab: {} TCP/{}: {e}", pod.key, port.port),
            },
            Protocol::Udp => match UdpSocket::bind(any).await {
                Ok(s) => {
                    tokio::spawn(serve_udp(s));
                }
                Err(e) => eprintln!("lab: {} UDP/{}: {e}", pod.key, port.port),
            },
            Protocol::Sctp => {}
        }
    }
    // Let every pod's servers come up before the first round.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while !stop.load(Ordering::Relaxed) {
        for &t in &targets {
            let tally = tally.clone();
            tokio::spawn(async move {
                tally.attempts.fetch_add(1, Ordering::Relaxed);
                if try_target(t).await {
                    tally.answered.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let mut left = round;
        while !left.is_zero() && !stop.load(Ordering::Relaxed) {
            let step = left.min(Duration::from_millis(100));
            tokio::time::sleep(step).await;
            left -= step;
        }
    }
}

async fn try_target(t: Target) -> bool {
    let limit = Duration::from_millis(900);
    match t.protocol {
        Protocol::Tcp => {
            let attempt = async {
                let mut s = TcpStream::connect(t.addr).await.ok()?;
                s.write_all(b"hello\n").await.ok()?;
                let mut buf = [0u8; 16];
                let n = s.read(&mut buf).await.ok()?;
                Some(n > 0)
            };
            matches!(tokio::time::timeout(limit, attempt).await, Ok(Some(true)))
        }
        Protocol::Udp => {
            let attempt = async {
                let local: SocketAddr = if t.addr.is_ipv4() {
                    "0.0.0.0:0".parse().ok()?
                } else {
                    "[::]:0".parse().ok()?
                };
                let s = UdpSocket::bind(local).await.ok()?;
                s.send_to(b"hello\n", t.addr).await.ok()?;
                let mut buf = [0u8; 16];
                let (n, _) = s.recv_from(&mut buf).await.ok()?;
                Some(n > 0)
            };
            matches!(tokio::time::timeout(limit, attempt).await, Ok(Some(true)))
        }
        Protocol::Sctp => false,
    }
}

async fn serve_tcp(listener: TcpListener) {
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let _ = tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await;
            let _ = s.write_all(b"ok\n").await;
        });
    }
}

async fn serve_udp(socket: UdpSocket) {
    let mut buf = [0u8; 512];
    loop {
        if let Ok((_, from)) = socket.recv_from(&mut buf).await {
            let _ = socket.send_to(b"ok\n", from).await;
        }
    }
}
