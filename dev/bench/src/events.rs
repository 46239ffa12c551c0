//! What domain events cost and how fast they arrive.
//!
//! - The outbox's cost on writes: `POST /products` through the gateway, first served by
//!   `products` (its outbox written in each write's transaction and relayed to JetStream),
//!   then by [`PLAIN`], the same program on the same database with
//!   [`EVENTS_OUTBOX`](contract::deploy::env::dev::EVENTS_OUTBOX)` = off` (no outbox row, no
//!   relay). Only one of the two runs at a time, so the gateway routes every write to it;
//!   the rest of the benchmark runs with `products` alone. The difference is the whole
//!   price of events on a write: the insert and its `NOTIFY` in the transaction, and the
//!   relay's publish and delete afterwards (CPU of products, PostgreSQL and nats-server).
//! - The end-to-end latency of an event: from a write's reply to its `products.created`
//!   event on an open `GET /events` stream, one write at a time.

use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::Method;
use serde::{Deserialize, Serialize};
use testbed::sse::Next;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::cli::Options;
use crate::cpu::CpuMeter;
use crate::load::{self, HttpRequest, Target};
use crate::report::{RunRecord, Via};
use crate::system::System;

/// The products instance with its outbox off.
pub const PLAIN: &str = "products-plain";
/// The write with its event.
pub const WRITE_OUTBOX: &str = "POST /products outbox";
/// The same write with the outbox off.
pub const WRITE_PLAIN: &str = "POST /products no outbox";
/// What selects this part with `--only`.
pub const SELECTOR: &str = "POST /products events";
/// Concurrent writers of the write runs.
const WRITE_CONCURRENCY: [usize; 2] = [1, 16];
/// Writes timed from reply to event.
const DELIVERIES: usize = 200;
/// How long one event may take before the run fails.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The latency from a write's reply to its event on `GET /events`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// Writes timed.
    pub writes: usize,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Slowest, ms.
    pub max_ms: f64,
}

/// The write runs: with the outbox, then with it off, at each of [`WRITE_CONCURRENCY`].
pub async fn writes(
    system: &mut System,
    token: &str,
    options: &Options,
) -> anyhow::Result<Vec<RunRecord>> {
    let target = Target::Http(HttpRequest {
        addr: system.gateway,
        method: Method::POST,
        path: "/products".to_owned(),
        token: Some(token.to_owned()),
        body: Some(Bytes::from(
            serde_json::json!({ "product_name": "bench" }).to_string(),
        )),
    });
    let mut runs = measure(system, &target, WRITE_OUTBOX, options).await;
    system.swap(contract::deploy::PRODUCTS, PLAIN).await?;
    runs.extend(measure(system, &target, WRITE_PLAIN, options).await);
    system.swap(PLAIN, contract::deploy::PRODUCTS).await?;
    Ok(runs)
}

async fn measure(
    system: &System,
    target: &Target,
    name: &str,
    options: &Options,
) -> Vec<RunRecord> {
    // The processes now running (a swapped instance has a new pid).
    let cpu = CpuMeter::new(system.tracked());
    let mut runs = Vec::new();
    for concurrency in WRITE_CONCURRENCY {
        let outcome = load::run(target, concurrency, options, &cpu).await;
        runs.push(RunRecord::new(name, Via::Gateway, concurrency, &outcome));
    }
    runs
}

/// Times [`DELIVERIES`] writes from their reply to their event on an open `GET /events`.
pub async fn delivery(system: &System, token: &str) -> anyhow::Result<DeliveryRecord> {
    let api = testbed::http::Api::new(&format!("http://{}", system.gateway));
    let mut stream = api
        .open_events("/events?types=products.created", token, None)
        .await?;
    if stream.status != 200 {
        bail!("GET /events answered {}", stream.status);
    }
    // Arrival times are taken as the frames are read, beside the writer.
    let (arrived, mut arrivals) = mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Next::Event(event) = stream.next(Duration::from_secs(30)).await {
            let now = Instant::now();
            let subject = serde_json::from_str::<serde_json::Value>(&event.data)
                .ok()
                .and_then(|v| v.get("subject")?.as_str().map(str::to_owned));
            if arrived.send((subject, now)).is_err() {
                break;
            }
        }
    });
    let mut latencies = Vec::with_capacity(DELIVERIES);
    // One write more than timed: the first one proves the stream's consumer is in place.
    for n in 0..=DELIVERIES {
        let reply = api
            .try_call(
                "POST",
                "/products",
                Some(token),
                Some(serde_json::json!({ "product_name": format!("bench-event-{n}") })),
            )
            .await?;
        let replied = Instant::now();
        let id = reply
            .body
            .get("product_id")
            .and_then(serde_json::Value::as_i64)
            .with_context(|| format!("POST /products answered {}", reply.status))?
            .to_string();
        let delivered = loop {
            match tokio::time::timeout(DELIVERY_TIMEOUT, arrivals.recv()).await {
                Ok(Some((subject, at))) if subject.as_deref() == Some(id.as_str()) => break at,
                Ok(Some(_)) => {}
                Ok(None) => bail!("the event stream ended"),
                Err(_) => bail!("product {id}'s event did not arrive in {DELIVERY_TIMEOUT:?}"),
            }
        };
        if n > 0 {
            // An event read before the reply arrived counts as no wait at all.
            latencies.push(delivered.saturating_duration_since(replied));
        }
    }
    reader.abort();
    latencies.sort_unstable();
    let at = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len());
        latencies[i - 1].as_secs_f64() * 1e3
    };
    Ok(DeliveryRecord {
        writes: latencies.len(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    })
}
