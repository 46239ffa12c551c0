//! Floods of slow clients, for the gateway's memory bounds (its flood tests and the chaos
//! suite): many connections from many loopback addresses, each writing a request as far as
//! the server reads it and then holding it open; what the server answered them; and a
//! process's resident memory, sampled while it happens.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// Longest one write of a flood may wait: a server that no longer reads must not stall it.
const WRITE_WAIT: Duration = Duration::from_secs(2);

/// Where a flood's connections come from: `per_address` connections from each loopback
/// address from `127.0.0.<first>` up (below the gateway's per-address cap, so that what is
/// measured is what every connection may hold).
#[derive(Debug, Clone, Copy)]
pub struct Sources {
    /// The last byte of the first address.
    pub first: u8,
    /// Connections from one address.
    pub per_address: usize,
}

impl Sources {
    /// Connection `i`: from `127.0.0.<first + i / per_address>`.
    async fn connect(self, to: SocketAddr, i: usize) -> Option<TcpStream> {
        let host = u8::try_from(usize::from(self.first) + i / self.per_address).ok()?;
        let socket = TcpSocket::new_v4().ok()?;
        socket.bind(SocketAddr::from(([127, 0, 0, host], 0))).ok()?;
        socket.connect(to).await.ok()
    }
}

/// Opens `count` connections to `to` from `sources` and writes `head` then `pad` on each as
/// far as the server takes it; the connections that opened, held open or closed by the server.
pub async fn open(
    to: SocketAddr,
    count: usize,
    sources: Sources,
    head: Arc<Vec<u8>>,
    pad: Arc<Vec<u8>>,
) -> Vec<TcpStream> {
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let (head, pad) = (head.clone(), pad.clone());
            tokio::spawn(async move {
                let mut conn = sources.connect(to, i).await?;
                for piece in std::iter::once(&head[..]).chain(pad.chunks(16 * 1024)) {
                    match tokio::time::timeout(WRITE_WAIT, conn.write_all(piece)).await {
                        Ok(Ok(())) => {}
                        // Closed, or no longer read: it holds what it holds.
                        Ok(Err(_)) | Err(_) => break,
                    }
                }
                Some(conn)
            })
        })
        .collect();
    let mut out = Vec::with_capacity(count);
    for task in tasks {
        if let Ok(Some(conn)) = task.await {
            out.push(conn);
        }
    }
    out
}

/// How the server answered `conns` so far: connections by HTTP status, `0` for closed
/// without an answer; connections still open and silent are not counted.
pub async fn answers(conns: &mut [TcpStream]) -> BTreeMap<u16, u64> {
    let mut out = BTreeMap::new();
    for conn in conns {
        let mut buf = [0; 64];
        let status =
            match tokio::time::timeout(Duration::from_millis(20), conn.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => 0,
                Ok(Ok(n)) => std::str::from_utf8(&buf[..n])
                    .ok()
                    .and_then(|t| t.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok())
                    .unwrap_or(0),
                Err(_) => continue,
            };
        *out.entry(status).or_default() += 1;
    }
    out
}

/// A `/proc/<pid>/status` figure in bytes (`VmRSS` now, `VmHWM` the peak).
pub fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

/// `bytes` in MiB, for reports.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Samples a process's resident memory every 20 ms until [`finish`](Self::finish); keeps the
/// highest figure (a peak `VmHWM` cannot give for a process that was already large).
#[derive(Debug)]
pub struct Sampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Sampler {
    /// Starts sampling process `pid`.
    pub fn start(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let (peak, stop) = (peak.clone(), stop.clone());
            async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = status_bytes(pid, "VmRSS") {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
        Self { peak, stop, task }
    }

    /// Stops sampling; the highest resident figure seen, in bytes.
    pub async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.peak.load(Ordering::Relaxed)
    }
}
