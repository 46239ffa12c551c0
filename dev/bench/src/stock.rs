//! The gateway as a stack runs it by default, started beside the benchmark's system: what the
//! operator renders for a stack that sets nothing (`operator/src/manifests/gateway.rs`: JSON
//! logs at `info`, rate limiting on, discovery every
//! [`contract::deploy::DEFAULT_DISCOVERY_INTERVAL_MS`]), with two changes the load needs:
//!
//! - the `read` class's quota is raised out of reach ([`UNREACHED_RATE_LIMITS`]): the load is
//!   one user at tens of thousands of requests per second, and refusals would be measured
//!   instead of the limiter's cost; every request still goes through the limiter;
//! - the connections allowed per address are the benchmark's, as for the system's gateway.
//!
//! The system's own gateway is the stripped configuration (`RATE_LIMITS=off`, readable logs,
//! the launcher's one-second discovery): [`crate::defaults`] compares the two, and
//! [`crate::startup`] times this one's start and routes new instances through it.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use contract::deploy::{self, env};
use testbed::process::{Child, Spec};

use crate::system::System;

/// The process name of the stock gateway (its log, its line in the CPU tables).
pub const NAME: &str = "gateway-stock";

/// [`deploy::DEFAULT_RATE_LIMITS`] with the `read` class raised out of the load's reach: the
/// limiter runs on every request and refuses none.
pub const UNREACHED_RATE_LIMITS: &str =
    "auth=2/s:burst 20,write=50/s:burst 100,read=10000000/s:burst 10000000";

/// The log format the operator renders by default (`LogFormat::Json`).
const DEFAULT_LOG_FORMAT: &str = "json";
/// The log filter the operator renders by default.
const DEFAULT_RUST_LOG: &str = "info";

/// How a stock gateway is started: its program, variables and addresses.
#[derive(Debug, Clone)]
pub struct StockGateway {
    /// What to run.
    pub spec: Spec,
    /// Its HTTP address.
    pub addr: SocketAddr,
    /// Its health address (`/readyz`, `/services`).
    pub health: SocketAddr,
}

impl StockGateway {
    /// The stock gateway of `system`, on free loopback ports.
    pub fn new(system: &System) -> anyhow::Result<Self> {
        let bin_dir = launcher::binaries::beside_current_exe()?;
        let addr = loopback(testbed::free_port());
        let health = loopback(testbed::free_port());
        let services = [
            deploy::AUTH,
            deploy::CUSTOMERS,
            deploy::PRODUCTS,
            crate::echo::SERVICE,
        ];
        let owners = contract::routes::RouteOwners::new(
            services.map(|s| (s, contract::routes::default_prefixes(s))),
        )
        .map_err(|e| anyhow::anyhow!("route prefixes: {e}"))?;
        let mut spec = Spec::new(NAME, bin_dir.join(deploy::GATEWAY));
        spec.env = [
            (env::NATS_URL, system.nats_url()),
            (env::LISTEN_ADDR, addr.to_string()),
            (env::HEALTH_ADDR, health.to_string()),
            (env::OTEL_SERVICE_NAME, deploy::GATEWAY.to_owned()),
            (env::ROUTE_OWNERS, owners.to_string()),
            (env::RUST_LOG, DEFAULT_RUST_LOG.to_owned()),
            (env::LOG_FORMAT, DEFAULT_LOG_FORMAT.to_owned()),
            (env::RATE_LIMITS, UNREACHED_RATE_LIMITS.to_owned()),
            (
                env::DISCOVERY_INTERVAL_MS,
                deploy::DEFAULT_DISCOVERY_INTERVAL_MS.to_string(),
            ),
            (
                env::MAX_CONNECTIONS_PER_ADDRESS,
                deploy::DEFAULT_MAX_CONNECTIONS.to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Ok(Self { spec, addr, health })
    }

    /// Starts it, logging to `logs`, and waits until `/readyz` answers 200 and it routes
    /// every subject of `subjects` (up to 60 s).
    pub async fn start(&self, logs: &Path, subjects: &[&str]) -> anyhow::Result<Child> {
        let mut child = Child::spawn(self.spec.clone(), &logs.join(format!("{NAME}.log")))?;
        let api = testbed::http::Api::new(&format!("http://{}", self.health));
        let subjects: Vec<String> = subjects.iter().map(|s| (*s).to_owned()).collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            child.check().context("the stock gateway exited")?;
            if testbed::http::get(self.health, deploy::READYZ_PATH).await.0 == 200
                && api.routes_all(&subjects).await
            {
                return Ok(child);
            }
            if Instant::now() > deadline {
                anyhow::bail!("the stock gateway does not route {subjects:?} 60 s after its start");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `127.0.0.1:port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Stops `child` (SIGTERM, SIGKILL after 10 s) off the runtime's scheduler.
pub fn stop(child: &mut Child) {
    tokio::task::block_in_place(|| child.stop());
}
