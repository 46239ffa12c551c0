//! The scenarios: each injects one fault or abuse into the running system, under load where
//! that matters, and checks what the README's reliability section promises.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use launcher::System;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testbed::http::{Api, get as http_get};
use testbed::poll;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::time::Instant;

use crate::load::{Kind, Load, Tally};
use crate::report::Outcome;

/// The gateway's deadline for a call (the default of `REQUEST_TIMEOUT_MS`).
pub const DEADLINE: Duration = Duration::from_millis(contract::deploy::DEFAULT_REQUEST_TIMEOUT_MS);

/// The second products instance, the one the instance faults hit.
pub const SECOND: &str = "products-2";

const READERS: usize = 4;
const WRITERS: usize = 2;
/// Load before the fault, so both instances are busy when it comes.
const WARM: Duration = Duration::from_secs(2);

/// The running system and what the scenarios need of it.
pub struct Chaos {
    /// The system.
    pub system: System,
    /// A client of the gateway.
    pub api: Api,
    /// The administrator's access token.
    pub token: String,
    /// The gateway's health address (`/readyz`, `/metrics`).
    pub gateway_health: SocketAddr,
    /// The second products instance's health address.
    pub second_health: SocketAddr,
    /// PostgreSQL's port.
    pub pg_port: u16,
}

impl Chaos {
    /// The process id of the component `name`.
    pub(crate) fn pid_of(&self, name: &str) -> Result<Pid> {
        let pid = self
            .system
            .processes()
            .into_iter()
            .find(|p| p.name == name)
            .with_context(|| format!("no process named {name}"))?
            .pid;
        Ok(Pid::from_raw(i32::try_from(pid)?))
    }

    /// Starts the second instance again and waits until it is ready.
    pub(crate) async fn restore_second(&mut self) -> Result<()> {
        self.system.restart(SECOND).await?;
        let addr = self.second_health;
        let ready = poll(
            Duration::from_secs(60),
            Duration::from_millis(50),
            || async move { http_get(addr, "/readyz").await.0 == 200 },
            || Ok::<_, anyhow::Error>(()),
        )
        .await?;
        if !ready {
            // Its log says why (a port taken, the database or NATS refusing): the only
            // evidence once the system's temporary directory is gone.
            let log = self.system.log_dir().join(format!("{SECOND}.log"));
            bail!(
                "{SECOND} is not ready again after 60 s; the end of its log:\n{}",
                testbed::process::log_tail(&log, 40)
            );
        }
        Ok(())
    }

    /// Calls the gateway sent a second time after a timeout, from its metrics.
    async fn retries(&self) -> u64 {
        let text = http_get(self.gateway_health, "/metrics").await.1;
        text.lines()
            .find_map(|l| {
                l.strip_prefix("natstack_gateway_upstream_retries_total{reason=\"timeout\"} ")
            })
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    async fn psql(&self, sql: &str) -> Result<()> {
        let bin = testbed::programs::pg_bin_dir()?.join("psql");
        let port = self.pg_port.to_string();
        let output = tokio::process::Command::new(bin)
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
            ])
            .args([
                "-U",
                "postgres",
                "-d",
                contract::deploy::PRODUCTS,
                "-c",
                sql,
            ])
            .output()
            .await?;
        if !output.status.success() {
            bail!("psql: {}", String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(())
    }
}

/// Readers and writers running from now until `WARM + after`.
struct Mixed {
    reads: Load,
    writes: Load,
    start: Instant,
}

impl Mixed {
    fn start(c: &Chaos, after: Duration) -> Self {
        let start = Instant::now();
        let until = start + WARM + after;
        Self {
            reads: Load::start(&c.api, &c.token, Kind::Read, READERS, start, until),
            writes: Load::start(&c.api, &c.token, Kind::Write, WRITERS, start, until),
            start,
        }
    }

    /// Waits until the fault is due.
    async fn warm(&self) {
        tokio::time::sleep_until(self.start + WARM).await;
    }

    async fn finish(self) -> (Tally, Tally) {
        (self.reads.finish().await, self.writes.finish().await)
    }
}

fn record(o: &mut Outcome, tallies: &[&Tally]) {
    for t in tallies {
        o.sent += t.sent;
        o.add_failed(&t.by_status());
    }
    let recovery = tallies.iter().map(|t| t.recovery(WARM)).max();
    o.recovery = recovery;
}

/// kill -9 of one of two instances: no GET lost (the gateway sends it again); at most the
/// writes in flight on that instance lost, each answered 504 within the deadline.
pub async fn kill_instance(c: &mut Chaos) -> Result<Outcome> {
    let mut o = Outcome::new("kill -9");
    let retries_before = c.retries().await;
    let load = Mixed::start(c, DEADLINE + Duration::from_secs(3));
    load.warm().await;
    kill(c.pid_of(SECOND)?, Signal::SIGKILL)?;
    let (reads, writes) = load.finish().await;
    c.restore_second().await?;
    record(&mut o, &[&reads, &writes]);
    o.note = format!(
        "GETs sent again by the gateway: {}; {WRITERS} writers, so at most {WRITERS} writes in flight",
        c.retries().await - retries_before
    );
    require_no_read_lost_and_writes_in_flight_at_most(&mut o, &reads, &writes);
    Ok(o)
}

/// No GET lost; at most one write per writer (those in flight) lost, each answered 504
/// within the deadline.
fn require_no_read_lost_and_writes_in_flight_at_most(
    o: &mut Outcome,
    reads: &Tally,
    writes: &Tally,
) {
    o.require(reads.failures.is_empty(), || {
        format!("GETs lost: {:?}", reads.by_status())
    });
    o.require(writes.failures.len() <= WRITERS, || {
        format!(
            "more writes lost than were in flight: {:?}",
            writes.by_status()
        )
    });
    o.require(
        writes
            .failures
            .iter()
            .all(|f| f.status == 504 && f.latency <= DEADLINE + Duration::from_secs(1)),
        || {
            format!(
                "a lost write not answered 504 within the deadline: {:?}",
                writes.failures
            )
        },
    );
}

/// SIGTERM of one of two instances: it finishes what it was given. No GET is lost. A write is
/// lost only in the narrow race the README's reliability section describes (async-nats stops
/// a Services API endpoint without a drain fence), at most one per writer, answered 504 within
/// the deadline; the note says when it happened.
pub async fn stop_instance(c: &mut Chaos) -> Result<Outcome> {
    let mut o = Outcome::new("SIGTERM");
    let load = Mixed::start(c, Duration::from_secs(3));
    load.warm().await;
    kill(c.pid_of(SECOND)?, Signal::SIGTERM)?;
    let (reads, writes) = load.finish().await;
    c.restore_second().await?;
    record(&mut o, &[&reads, &writes]);
    if !writes.failures.is_empty() {
        o.note = format!(
            "{} write(s) routed to the instance as it unsubscribed",
            writes.failures.len()
        );
    }
    require_no_read_lost_and_writes_in_flight_at_most(&mut o, &reads, &writes);
    Ok(o)
}

/// A server started again under load (nats-server after kill -9, PostgreSQL after its fast
/// shutdown): clear 503/504 while it is away, never a 500 or a dropped connection, and every
/// request answered again afterwards. The recovery time is what the table shows.
pub async fn restart_server(c: &mut Chaos, name: &'static str) -> Result<Outcome> {
    let mut o = Outcome::new(if name == "postgres" {
        "postgres restart"
    } else {
        "nats kill -9"
    });
    let settle = Duration::from_secs(12);
    let load = Mixed::start(c, settle);
    load.warm().await;
    let restarting = Instant::now();
    if name == "nats-server" {
        // A crash, not a clean stop: connections break without a goodbye.
        kill(c.pid_of(name)?, Signal::SIGKILL)?;
    }
    c.system.restart(name).await?;
    let took = restarting.elapsed();
    let (reads, writes) = load.finish().await;
    o.note = format!(
        "{name} away and back in {:.2}s; failed: {} reads, {} writes",
        took.as_secs_f64(),
        reads.failures.len(),
        writes.failures.len()
    );
    record(&mut o, &[&reads, &writes]);
    let all = reads.failures.iter().chain(&writes.failures);
    let bad: Vec<u16> = all
        .clone()
        .map(|f| f.status)
        .filter(|s| !matches!(s, 503 | 504))
        .collect();
    o.require(bad.is_empty(), || {
        format!("answers other than 503/504: {bad:?}")
    });
    let tail = WARM + settle - Duration::from_secs(2);
    o.require(all.clone().all(|f| f.sent_at < tail), || {
        "still failing 2 s before the end".to_owned()
    });
    Ok(o)
}

/// Requests with client-chosen methods: the gateway's `/metrics` stays the same size.
pub async fn random_methods(c: &mut Chaos, count: usize) -> Result<Outcome> {
    let mut o = Outcome::new("random methods");
    let size = |addr| async move { http_get(addr, "/metrics").await.1.len() };
    let before = size(c.gateway_health).await;
    let mut statuses = std::collections::BTreeMap::new();
    for chunk in (0..count).collect::<Vec<_>>().chunks(16) {
        let calls = chunk.iter().map(|i| {
            let api = c.api.clone();
            async move {
                let method = format!("CHAOS{i:x}");
                api.try_call(&method, "/products", None, None)
                    .await
                    .map_or(0, |r| r.status)
            }
        });
        for status in futures::future::join_all(calls).await {
            *statuses.entry(status).or_insert(0u64) += 1;
        }
    }
    let after = size(c.gateway_health).await;
    o.sent = count as u64;
    statuses.retain(|s, _| !(400..500).contains(s));
    o.add_failed(&statuses);
    o.note = format!("/metrics {before} → {after} bytes");
    o.require(statuses.is_empty(), || {
        format!("answers other than 4xx: {statuses:?}")
    });
    o.require(after <= before + 16 * 1024, || {
        format!("/metrics grew from {before} to {after} bytes")
    });
    Ok(o)
}

/// Product ids run out: creates answer 503 saying so, never 500.
pub async fn id_exhaustion(c: &mut Chaos) -> Result<Outcome> {
    let mut o = Outcome::new("id exhaustion");
    // Two ids left before the end of bigint.
    c.psql("ALTER TABLE products ALTER COLUMN product_id RESTART WITH 9223372036854775806")
        .await?;
    let mut statuses = Vec::new();
    for n in 0..4 {
        let body = serde_json::json!({ "product_name": format!("last-{n}") });
        let reply = c
            .api
            .try_call("POST", "/products", Some(&c.token), Some(body))
            .await;
        statuses.push(reply.map_or(0, |r| r.status));
    }
    // Room again for whatever runs next.
    c.psql("ALTER TABLE products ALTER COLUMN product_id RESTART WITH 1000000000")
        .await?;
    o.sent = statuses.len() as u64;
    for s in statuses.iter().filter(|s| **s != 201) {
        *o.failed.entry(*s).or_default() += 1;
    }
    o.note = format!("statuses {statuses:?}");
    o.require(statuses.iter().all(|s| matches!(s, 201 | 503)), || {
        "an answer other than 201 or 503".to_owned()
    });
    o.require(statuses.contains(&503), || "never answered 503".to_owned());
    Ok(o)
}

/// Slow clients holding connections with half-sent headers: new clients and health are
/// still answered.
pub async fn slow_clients(c: &mut Chaos, connections: usize) -> Result<Outcome> {
    let mut o = Outcome::new("slow clients");
    let addr = api_addr(&c.api)?;
    let mut held = Vec::with_capacity(connections);
    for i in 0..connections {
        held.push(half_sent(addr, i).await?);
    }
    let started = Instant::now();
    let product = c
        .api
        .try_call("GET", "/products?limit=1", Some(&c.token), None)
        .await
        .map_or(0, |r| r.status);
    let health = http_get(c.gateway_health, "/readyz").await.0;
    let took = started.elapsed();
    drop(held);
    o.sent = connections as u64 + 2;
    for s in [product, health].into_iter().filter(|s| *s != 200) {
        *o.failed.entry(s).or_default() += 1;
    }
    o.note = format!(
        "{connections} held connections; a new client and /readyz answered in {:.2}s",
        took.as_secs_f64()
    );
    o.require(product == 200 && health == 200, || {
        format!("new client {product}, /readyz {health}")
    });
    o.require(took < Duration::from_secs(2), || {
        format!("answered after {took:?}")
    });
    Ok(o)
}

/// The gateway's connection cap in the suite (`MAX_CONNECTIONS`): what the operator renders
/// for its default memory limit.
pub fn gateway_connection_cap() -> u32 {
    contract::deploy::gateway_memory(crate::floods::GATEWAY_MEMORY).max_connections
}

/// Descriptor pressure: more half-sent connections than the gateway's cap. Beyond the cap a
/// connection is closed at once (never queued in the backlog until the process runs out of
/// descriptors), health keeps answering on its own listener, and the API serves new clients
/// again as soon as the holders let go.
pub async fn connection_cap(c: &mut Chaos) -> Result<Outcome> {
    let mut o = Outcome::new("connection cap");
    let addr = api_addr(&c.api)?;
    let over = 64;
    let cap = gateway_connection_cap();
    let mut held = Vec::new();
    for i in 0..cap as usize {
        held.push(half_sent(addr, i).await?);
    }
    // Every connection over the cap must be closed by the gateway, promptly.
    let mut closed = 0;
    for i in 0..over {
        let mut stream = half_sent(addr, cap as usize + i).await?;
        let mut byte = [0_u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut byte)).await;
        // End of stream or a reset: the gateway closed it. A timeout: it left it hanging.
        if let Ok(Ok(0) | Err(_)) = read {
            closed += 1;
        }
    }
    let health = http_get(c.gateway_health, "/readyz").await.0;
    let released = Instant::now();
    drop(held);
    let (api, token) = (&c.api, c.token.as_str());
    let recovered = poll(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || async move {
            api.try_call("GET", "/products?limit=1", Some(token), None)
                .await
                .is_ok_and(|r| r.status == 200)
        },
        || Ok::<_, anyhow::Error>(()),
    )
    .await?;
    o.sent = u64::from(cap) + over as u64 + 2;
    o.recovery = Some(released.elapsed());
    if health != 200 {
        *o.failed.entry(health).or_default() += 1;
    }
    o.note = format!("cap {cap}: {closed} of {over} over it closed at once; /readyz {health}");
    o.require(closed == over, || {
        format!(
            "{} connections over the cap were left hanging",
            over - closed
        )
    });
    o.require(health == 200, || format!("/readyz answered {health}"));
    o.require(recovered, || {
        "no new client served 10 s after the holders left".to_owned()
    });
    Ok(o)
}

/// The gateway's API address.
pub(crate) fn api_addr(api: &Api) -> Result<SocketAddr> {
    api.base()
        .trim_start_matches("http://")
        .parse()
        .context("the gateway address")
}

/// Held connections from one loopback address (below the gateway's per-address cap).
const HELD_PER_ADDRESS: usize = 32;

/// Connection `i` of many held ones that sent half a request head and wait, from
/// `127.0.0.<2 + i / HELD_PER_ADDRESS>`: the global cap is under test, not the per-address one.
async fn half_sent(addr: SocketAddr, i: usize) -> Result<tokio::net::TcpStream> {
    let host = u8::try_from(2 + i / HELD_PER_ADDRESS).context("too many held connections")?;
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from(([127, 0, 0, host], 0)))?;
    let mut stream = socket.connect(addr).await?;
    stream
        .write_all(b"GET /products HTTP/1.1\r\nHost: chaos\r\n")
        .await?;
    Ok(stream)
}
