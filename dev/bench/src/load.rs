//! Closed-loop load: `concurrency` clients, each sending its next request as soon as the last
//! one is answered, for a warm-up and then a measured window. Every latency of the window is
//! kept, so percentiles are exact. HTTP clients each hold one keep-alive HTTP/1.1 connection;
//! NATS requesters share one connection, as the gateway does.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use runtime::{CallOptions, Requester};
use tokio::net::TcpStream;

use crate::cli::Options;
use crate::cpu::CpuMeter;

/// How long a request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Error messages kept per run, to show what went wrong.
const ERROR_SAMPLES: usize = 5;

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// One HTTP request, sent again and again.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// The gateway.
    pub addr: SocketAddr,
    /// Method.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// `Authorization: Bearer` token.
    pub token: Option<String>,
    /// A JSON body.
    pub body: Option<Bytes>,
}

/// One NATS request, sent again and again.
#[derive(Debug, Clone)]
pub struct NatsRequest {
    /// The shared requester.
    pub requester: Requester,
    /// The operation's subject.
    pub subject: String,
    /// The envelope, as the gateway would send it.
    pub payload: Bytes,
    /// The caller headers the gateway would set.
    pub headers: async_nats::HeaderMap,
}

/// What a run sends.
#[derive(Debug, Clone)]
pub enum Target {
    /// HTTP through the gateway.
    Http(HttpRequest),
    /// NATS straight to the service.
    Nats(NatsRequest),
    /// Something the benchmark does itself, e.g. one SQL statement ([`crate::driver`]).
    Call(Call),
}

/// One request of the benchmark's own: a future made afresh for each.
#[derive(Clone)]
pub struct Call(pub Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>);

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Call")
    }
}

/// What a run measured.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Latency of every request answered in the measured window, sorted, in nanoseconds.
    pub latencies: Vec<u64>,
    /// The measured window.
    pub elapsed: Duration,
    /// Failed requests, warm-up included.
    pub errors: u64,
    /// The first few errors.
    pub error_samples: Vec<String>,
    /// Microseconds of CPU per request answered in the measured window, by process.
    pub cpu_us: BTreeMap<String, f64>,
}

impl Outcome {
    /// Successful requests per second in the measured window.
    pub fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// The `p`th percentile latency (nearest rank), 0 with no samples.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        Duration::from_nanos(self.latencies[rank.clamp(1, self.latencies.len()) - 1])
    }

    fn merge(&mut self, worker: Worker) {
        self.latencies.extend(worker.latencies);
        self.errors += worker.errors;
        for e in worker.error_samples {
            if self.error_samples.len() < ERROR_SAMPLES {
                self.error_samples.push(e);
            }
        }
    }
}

/// One client's share of a run.
#[derive(Default)]
struct Worker {
    latencies: Vec<u64>,
    errors: u64,
    error_samples: Vec<String>,
}

impl Worker {
    fn error(&mut self, message: String) {
        self.errors += 1;
        if self.error_samples.len() < ERROR_SAMPLES {
            self.error_samples.push(message);
        }
    }
}

/// Drives `target` with `concurrency` clients: the options' warm-up, then their duration
/// measured, reading `cpu` at both ends of the measured window.
pub async fn run(
    target: &Target,
    concurrency: usize,
    options: &Options,
    cpu: &CpuMeter,
) -> Outcome {
    let phase = Arc::new(AtomicU8::new(WARMUP));
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let phase = phase.clone();
            match target.clone() {
                Target::Http(request) => tokio::spawn(http_client(request, phase)),
                Target::Nats(request) => tokio::spawn(nats_client(request, phase)),
                Target::Call(call) => tokio::spawn(call_client(call, phase)),
            }
        })
        .collect();
    tokio::time::sleep(options.warmup()).await;
    let cpu_before = cpu.sample();
    phase.store(MEASURE, Ordering::SeqCst);
    let started = Instant::now();
    tokio::time::sleep(options.duration()).await;
    phase.store(STOP, Ordering::SeqCst);
    let elapsed = started.elapsed();
    let cpu_after = cpu.sample();

    let mut outcome = Outcome {
        elapsed,
        ..Outcome::default()
    };
    for worker in workers {
        match worker.await {
            Ok(worker) => outcome.merge(worker),
            Err(e) => {
                outcome.errors += 1;
                outcome
                    .error_samples
                    .push(format!("client task failed: {e}"));
            }
        }
    }
    outcome.latencies.sort_unstable();
    outcome.cpu_us = cpu.per_request(&cpu_before, &cpu_after, outcome.latencies.len() as u64);
    outcome
}

/// The phase a request starts in, or `None` once the run is over.
fn next_phase(phase: &AtomicU8) -> Option<u8> {
    let now = phase.load(Ordering::Relaxed);
    (now != STOP).then_some(now)
}

impl Worker {
    /// Records a request that started at `started` in phase `before`: its latency when it
    /// started and ended inside the measured window, or its failure whenever it happened.
    fn finish(
        &mut self,
        phase: &AtomicU8,
        before: u8,
        started: Instant,
        result: Result<Result<(), String>, tokio::time::error::Elapsed>,
    ) {
        let latency = started.elapsed();
        match result {
            Ok(Ok(())) => {
                if before == MEASURE && phase.load(Ordering::Relaxed) == MEASURE {
                    self.latencies.push(latency.as_nanos() as u64);
                }
            }
            Ok(Err(message)) => self.error(message),
            Err(_) => self.error(format!("no answer within {REQUEST_TIMEOUT:?}")),
        }
    }
}

async fn http_client(request: HttpRequest, phase: Arc<AtomicU8>) -> Worker {
    let mut worker = Worker::default();
    let mut connection: Option<SendRequest<Full<Bytes>>> = None;
    while let Some(before) = next_phase(&phase) {
        let started = Instant::now();
        let result =
            tokio::time::timeout(REQUEST_TIMEOUT, http_once(&request, &mut connection)).await;
        if !matches!(result, Ok(Ok(()))) {
            // The connection may be broken: the next request opens a fresh one.
            connection = None;
        }
        worker.finish(&phase, before, started, result);
    }
    worker
}

/// One request on the client's connection, opening it first if needed.
async fn http_once(
    request: &HttpRequest,
    connection: &mut Option<SendRequest<Full<Bytes>>>,
) -> Result<(), String> {
    let sender = match connection {
        Some(sender) => sender,
        None => connection.insert(connect(request.addr).await.map_err(|e| format!("{e:#}"))?),
    };
    send_http(sender, request).await
}

/// Opens a keep-alive HTTP/1.1 connection.
pub async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake failed")?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends `request` once and reads the whole answer; anything but a 2xx is an error.
async fn send_http(
    sender: &mut SendRequest<Full<Bytes>>,
    request: &HttpRequest,
) -> Result<(), String> {
    let (status, body) = exchange(sender, request).await?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ))
    }
}

/// Sends `request` once and returns the status and body.
pub async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    request: &HttpRequest,
) -> Result<(http::StatusCode, Bytes), String> {
    sender
        .ready()
        .await
        .map_err(|e| format!("connection lost: {e}"))?;
    let mut builder = Request::builder()
        .method(request.method.clone())
        .uri(request.path.as_str())
        .header(header::HOST, request.addr.to_string());
    if let Some(token) = &request.token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if request.body.is_some() {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    let http_request = builder
        .body(Full::new(request.body.clone().unwrap_or_default()))
        .map_err(|e| format!("bad request: {e}"))?;
    let response = sender
        .send_request(http_request)
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body could not be read: {e}"))?
        .to_bytes();
    Ok((status, body))
}

async fn nats_client(request: NatsRequest, phase: Arc<AtomicU8>) -> Worker {
    let mut worker = Worker::default();
    while let Some(before) = next_phase(&phase) {
        let started = Instant::now();
        let result = tokio::time::timeout(REQUEST_TIMEOUT, send_nats(&request)).await;
        worker.finish(&phase, before, started, result);
    }
    worker
}

async fn call_client(call: Call, phase: Arc<AtomicU8>) -> Worker {
    let mut worker = Worker::default();
    while let Some(before) = next_phase(&phase) {
        let started = Instant::now();
        let result = tokio::time::timeout(REQUEST_TIMEOUT, (call.0)()).await;
        worker.finish(&phase, before, started, result);
    }
    worker
}

/// Sends `request` once; an error reply is an error.
pub async fn send_nats(request: &NatsRequest) -> Result<(), String> {
    let options = CallOptions {
        timeout: REQUEST_TIMEOUT,
        headers: request.headers.clone(),
    };
    let reply = request
        .requester
        .request(&request.subject, request.payload.clone(), options)
        .await
        .map_err(|e| e.to_string())?;
    match runtime::call::error_of(&reply) {
        None => Ok(()),
        Some(error) => Err(format!("{}: {}", error.code.status(), error.message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let outcome = Outcome {
            latencies: (1..=100).map(|ms| ms * 1_000_000).collect(),
            elapsed: Duration::from_secs(2),
            ..Outcome::default()
        };
        assert_eq!(outcome.percentile(50.0), Duration::from_millis(50));
        assert_eq!(outcome.percentile(99.0), Duration::from_millis(99));
        assert_eq!(outcome.percentile(100.0), Duration::from_millis(100));
        assert_eq!(outcome.percentile(0.0), Duration::from_millis(1));
        assert!((outcome.throughput() - 50.0).abs() < 1e-9);
        assert_eq!(Outcome::default().percentile(99.0), Duration::ZERO);
    }

    #[test]
    fn merging_keeps_a_few_error_samples() {
        let mut outcome = Outcome::default();
        for _ in 0..3 {
            let mut worker = Worker::default();
            for i in 0..4 {
                worker.error(format!("e{i}"));
            }
            worker.latencies.push(7);
            outcome.merge(worker);
        }
        assert_eq!(outcome.errors, 12);
        assert_eq!(outcome.error_samples.len(), ERROR_SAMPLES);
        assert_eq!(outcome.latencies, [7, 7, 7]);
    }
}
