//! Memory floods against the real gateway binary, run as a child process so its resident
//! memory is its own: 1,000 unfinished heads and 300 slow 1 MB bodies keep it within the
//! operator's default memory limit (128 MiB, with the limits the operator renders for it),
//! while a healthy client is still served. The figures are printed.
//!
//! The floods come from loopback addresses `127.0.0.2` and up, at most 60 connections each,
//! so the per-address cap does not stop them: what is tested is what every connection and
//! body may hold.

// The figures are what these tests report.
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;

use contract::deploy::{GatewayMemory, env, gateway_memory};
use runtime::test_support::{NatsServer, free_port, http_get, wait_until};
use testbed::flood::{Sources, answers, mib, open, status_bytes};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use super::support::{Http, WAIT, Widgets, start_widgets};

/// The operator's default memory limit of the gateway container.
const LIMIT: u64 = 128 * 1024 * 1024;
/// Connections a flood opens from one address (below the default per-address cap).
const PER_ADDRESS: usize = 60;

/// The gateway binary, with the limits the operator renders for [`LIMIT`].
struct Gateway {
    child: Child,
    api: SocketAddr,
    health: SocketAddr,
}

impl Gateway {
    async fn start(nats: &NatsServer) -> Self {
        let GatewayMemory {
            max_connections,
            body_budget_bytes,
        } = gateway_memory(LIMIT);
        let api = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let health = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let child = Command::new(env!("CARGO_BIN_EXE_gateway"))
            .env(env::NATS_URL, nats.url())
            .env(env::LISTEN_ADDR, api.to_string())
            .env(env::HEALTH_ADDR, health.to_string())
            .env(env::DISCOVERY_INTERVAL_MS, "100")
            .env(env::ROUTE_OWNERS, super::support::OWNERS)
            // Each flood comes from a few addresses: the rate limits are not under test.
            .env(env::RATE_LIMITS, "off")
            // Held heads stay held while they are measured.
            .env(env::HEADER_READ_TIMEOUT_MS, "30000")
            .env(env::MAX_CONNECTIONS, max_connections.to_string())
            .env(env::BODY_BUDGET_BYTES, body_budget_bytes.to_string())
            .env(env::RUST_LOG, "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the gateway binary starts");
        let http = Http::new(format!("http://{api}"));
        wait_until("the gateway binary routes /widgets", WAIT, || {
            let http = http.clone();
            async move {
                http_get(health, "/readyz").await.0 == 200
                    && http.get("/widgets").await.status == 200
            }
        })
        .await;
        Self { child, api, health }
    }

    /// Opens `count` connections to the API from [`SOURCES`], each writing `head` then `pad`
    /// as far as the gateway takes it.
    async fn flood(&self, count: usize, head: Arc<Vec<u8>>, pad: Arc<Vec<u8>>) -> Vec<TcpStream> {
        open(self.api, count, SOURCES, head, pad).await
    }

    /// A `/proc/<pid>/status` figure in bytes (`VmRSS` now, `VmHWM` the peak).
    fn memory(&self, field: &str) -> u64 {
        let pid = self.child.id().expect("the gateway is running");
        status_bytes(pid, field).unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
    }

    /// A healthy client's GET and the health check, both answered 200.
    async fn assert_serves(&self) {
        let started = std::time::Instant::now();
        let reply = Http::new(format!("http://{}", self.api))
            .get("/widgets")
            .await;
        assert_eq!(reply.status, 200, "a healthy client during the flood");
        assert_eq!(http_get(self.health, "/readyz").await.0, 200);
        println!(
            "a healthy client was served in {:.3}s during the flood",
            started.elapsed().as_secs_f64()
        );
    }

    /// Opens a flood as [`Self::flood`] does and, while it is open, asserts that a healthy
    /// client is served ([`Self::assert_serves`]) and the peak resident memory stays under
    /// [`LIMIT`]. Prints how the flood (`what`) was answered.
    async fn assert_withstands(
        &self,
        what: &str,
        count: usize,
        head: Arc<Vec<u8>>,
        pad: Arc<Vec<u8>>,
    ) {
        let mut flood = self.flood(count, head, pad).await;
        self.assert_serves().await;
        let refused = answers(&mut flood).await;
        let peak = self.memory("VmHWM");
        println!(
            "{what}: answered {refused:?} (status: connections, 0 = closed unanswered); peak resident {:.1} MiB of {:.0} MiB",
            mib(peak),
            mib(LIMIT)
        );
        assert!(peak < LIMIT, "peak resident {:.1} MiB", mib(peak));
    }
}

/// Where the floods come from: `127.0.0.2` and up, below the per-address cap.
const SOURCES: Sources = Sources {
    first: 2,
    per_address: PER_ADDRESS,
};

#[tokio::test]
async fn unfinished_heads_keep_the_gateway_under_its_memory_limit() {
    const HEADS: usize = 1000;
    let nats = NatsServer::start().await.unwrap();
    let client = nats.client().await;
    let widgets = start_widgets(&client, Widgets::default()).await;
    let gateway = Gateway::start(&nats).await;
    let at_rest = gateway.memory("VmRSS");

    // Heads just under the read buffer: held, each, until the header timeout.
    let head = Arc::new(b"GET /widgets HTTP/1.1\r\nhost: flood\r\nx-pad: ".to_vec());
    let held = gateway
        .flood(HEADS, head.clone(), Arc::new(vec![b'a'; 15 * 1024]))
        .await;
    assert_eq!(held.len(), HEADS, "every flood connection opened");
    gateway.assert_serves().await;
    let holding = gateway.memory("VmRSS");
    println!(
        "{HEADS} heads of 15 KiB held: {:.1} MiB resident ({:.1} MiB at rest), {:.1} KiB a connection",
        mib(holding),
        mib(at_rest),
        (holding - at_rest) as f64 / 1024.0 / HEADS as f64
    );
    drop(held);

    // Heads of 256 KiB: cut off at the read buffer with 431.
    let what = format!("{HEADS} heads of 256 KiB");
    let pad = Arc::new(vec![b'a'; 256 * 1024]);
    gateway.assert_withstands(&what, HEADS, head, pad).await;
    widgets.stop().await;
}

#[tokio::test]
async fn slow_bodies_keep_the_gateway_under_its_memory_limit() {
    const BODIES: usize = 300;
    // 1 MB: under the body limit (1 MiB less the envelope's room in a NATS message).
    const SIZE: usize = 1_000_000;
    let nats = NatsServer::start().await.unwrap();
    let client = nats.client().await;
    let widgets = start_widgets(&client, Widgets::default()).await;
    let gateway = Gateway::start(&nats).await;

    // Each sends all of its body but the last byte, then waits.
    let head = format!(
        "POST /widgets/fail HTTP/1.1\r\nhost: flood\r\ncontent-type: application/json\r\n\
         content-length: {SIZE}\r\n\r\n"
    );
    let head = Arc::new(head.into_bytes());
    let body = Arc::new(vec![b' '; SIZE - 1]);
    let what = format!("{BODIES} slow bodies of 1 MB");
    gateway.assert_withstands(&what, BODIES, head, body).await;
    widgets.stop().await;
}
