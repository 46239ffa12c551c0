//! Memory floods from unauthenticated clients: unfinished heads and slow bodies, each from
//! many loopback addresses (`127.0.0.2` and up, below the per-address cap) so that what every
//! connection and body may hold is what is measured. The gateway's resident memory is sampled
//! throughout from `/proc/<pid>/status` while a healthy client keeps reading, and must stay
//! under the operator's default memory limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;

use crate::report::Outcome;
use crate::scenarios::{Chaos, api_addr};

/// The operator's default memory limit of the gateway container; the suite's gateway runs
/// with the limits rendered for it.
pub const GATEWAY_MEMORY: u64 = 128 * 1024 * 1024;
/// Flood connections from one address (below the default per-address cap of 64).
const PER_ADDRESS: usize = 60;
/// Longest one write of a flood may wait: a gateway that no longer reads must not stall it.
const WRITE_WAIT: Duration = Duration::from_secs(2);

/// Samples a process's resident memory until stopped; keeps the highest figure.
struct Sampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Sampler {
    fn start(pid: i32) -> Self {
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

    async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.peak.load(Ordering::Relaxed)
    }
}

/// A `/proc/<pid>/status` figure in bytes.
fn status_bytes(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Connection `i` of a flood: from `127.0.0.<first + i / per_address>`.
async fn connect(api: SocketAddr, first: u8, per_address: usize, i: usize) -> Option<TcpStream> {
    let host = usize::from(first) + i / per_address;
    let socket = TcpSocket::new_v4().ok()?;
    let source = SocketAddr::from(([127, 0, 0, u8::try_from(host).ok()?], 0));
    socket.bind(source).ok()?;
    socket.connect(api).await.ok()
}

/// Opens `count` connections (`per_address` from each address from `127.0.0.<first>`) and
/// writes `head` then `pad` on each as far as the gateway takes it.
async fn flood(
    api: SocketAddr,
    count: usize,
    (first, per_address): (u8, usize),
    head: Arc<Vec<u8>>,
    pad: Arc<Vec<u8>>,
) -> Vec<TcpStream> {
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let (head, pad) = (head.clone(), pad.clone());
            tokio::spawn(async move {
                let mut conn = connect(api, first, per_address, i).await?;
                for piece in std::iter::once(&head[..]).chain(pad.chunks(16 * 1024)) {
                    match tokio::time::timeout(WRITE_WAIT, conn.write_all(piece)).await {
                        Ok(Ok(())) => {}
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

/// How the gateway answered `conns` so far: by status, `0` for closed without an answer;
/// connections still open and silent are not counted.
async fn answers(conns: &mut [TcpStream]) -> std::collections::BTreeMap<u16, u64> {
    let mut out = std::collections::BTreeMap::new();
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

/// A healthy client's reads during a flood: how many of `count` were answered 200.
async fn healthy_reads(c: &Chaos, count: u64) -> u64 {
    let mut ok = 0;
    for _ in 0..count {
        let status = c
            .api
            .try_call("GET", "/products?limit=1", Some(&c.token), None)
            .await
            .map_or(0, |r| r.status);
        ok += u64::from(status == 200);
    }
    ok
}

/// Records the figures common to both floods and requires what both promise.
fn conclude(o: &mut Outcome, peak: u64, healthy: (u64, u64)) {
    let (ok, sent) = healthy;
    o.sent += sent;
    if ok < sent {
        *o.failed.entry(0).or_default() += sent - ok;
    }
    o.require(peak < GATEWAY_MEMORY, || {
        format!("the gateway reached {:.1} MiB resident", mib(peak))
    });
    o.require(ok == sent, || {
        format!("{} of {sent} healthy reads failed", sent - ok)
    });
}

/// 1,000 connections each holding an unfinished head just under the read buffer (the most a
/// head may hold), then 1,000 sending heads of 256 KiB (cut off with 431).
pub async fn unfinished_heads(c: &mut Chaos, heads: usize) -> Result<Outcome> {
    let mut o = Outcome::new("unfinished heads");
    let api = api_addr(&c.api)?;
    let sampler = Sampler::start(c.pid_of(contract::deploy::GATEWAY)?.as_raw());
    let head = Arc::new(b"GET /products HTTP/1.1\r\nhost: chaos\r\nx-pad: ".to_vec());
    let spread = (2, PER_ADDRESS);
    let held = flood(
        api,
        heads,
        spread,
        head.clone(),
        Arc::new(vec![b'a'; 15 * 1024]),
    )
    .await;
    let healthy = healthy_reads(c, 20).await;
    let opened = held.len();
    drop(held);
    let mut cut = flood(api, heads, spread, head, Arc::new(vec![b'a'; 256 * 1024])).await;
    let healthy = healthy + healthy_reads(c, 20).await;
    let cut_off = answers(&mut cut).await.get(&431).copied().unwrap_or(0);
    drop(cut);
    let peak = sampler.finish().await;
    o.sent = 2 * heads as u64;
    o.note = format!(
        "{opened} heads of 15 KiB held, then {heads} of 256 KiB ({cut_off} answered 431): \
         gateway peak {:.1} MiB resident (limit {:.0} MiB)",
        mib(peak),
        mib(GATEWAY_MEMORY)
    );
    conclude(&mut o, peak, (healthy, 40));
    Ok(o)
}

/// Slow 1 MB bodies: `bodies` from one address to `GET /.well-known/jwks.json` (closed by the
/// per-address cap, or refused unread: that route takes no body), then `bodies` from many
/// addresses to `POST /auth/login`, all but the last byte sent (the body budget answers 503
/// beyond it).
pub async fn slow_bodies(c: &mut Chaos, bodies: usize) -> Result<Outcome> {
    // 1 MB: under the body limit (1 MiB less the envelope's room in a NATS message).
    const SIZE: usize = 1_000_000;
    let mut o = Outcome::new("slow bodies");
    let api = api_addr(&c.api)?;
    let sampler = Sampler::start(c.pid_of(contract::deploy::GATEWAY)?.as_raw());
    let body = Arc::new(vec![b' '; SIZE - 1]);
    let head = |method: &str, path: &str| {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: chaos\r\ncontent-type: application/json\r\n\
             content-length: {SIZE}\r\n\r\n"
        );
        Arc::new(head.into_bytes())
    };
    let one = (2, bodies);
    let jwks = head("GET", "/.well-known/jwks.json");
    let mut from_one = flood(api, bodies, one, jwks, body.clone()).await;
    let one_address = answers(&mut from_one).await;
    let healthy = healthy_reads(c, 20).await;
    drop(from_one);
    let login = head("POST", "/auth/login");
    let mut spread = flood(api, bodies, (3, PER_ADDRESS), login, body).await;
    let healthy = healthy + healthy_reads(c, 20).await;
    let many = answers(&mut spread).await;
    drop(spread);
    let peak = sampler.finish().await;
    o.sent = 2 * bodies as u64;
    let count = |answers: &std::collections::BTreeMap<u16, u64>, status| {
        answers.get(&status).copied().unwrap_or(0)
    };
    o.note = format!(
        "{bodies} from one address: {} closed at once, {} answered 400; {bodies} from {} \
         addresses: {} answered 503; gateway peak {:.1} MiB resident (limit {:.0} MiB)",
        count(&one_address, 0),
        count(&one_address, 400),
        bodies.div_ceil(PER_ADDRESS),
        count(&many, 503),
        mib(peak),
        mib(GATEWAY_MEMORY)
    );
    conclude(&mut o, peak, (healthy, 40));
    Ok(o)
}
