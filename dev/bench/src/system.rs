//! The system under test, started by the launcher as `make run` starts it (nats-server,
//! PostgreSQL, nx-27017, auth, customers, products and the gateway, each its own process, on
//! free loopback ports), plus the echo service: this binary again, as `bench serve-echo`.
//! Everything is stopped when [`System`] is dropped.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use contract::deploy::env;
use launcher::Role;
use tracing::info;

use crate::echo;
use crate::memory::{Kind, Tracked};

/// The administrator the auth service creates at start.
pub const ADMIN_EMAIL: &str = "bench-admin@example.com";

/// Auth's password checks at once per account in the benchmark's system: the most auth allows,
/// above any login concurrency the runs use (`--login-concurrency`).
const LOGIN_MAX_CONCURRENT: u32 = 1024;

/// The running system.
pub struct System {
    inner: launcher::System,
    /// The gateway's HTTP address.
    pub gateway: SocketAddr,
    /// The admin's password (generated for this run).
    pub admin_password: String,
    /// auth's `ARGON2_MAX_CONCURRENT`, set here so its memory budget is known.
    pub argon2_max_concurrent: u64,
    /// auth's `ARGON2_MEMORY_KIB`.
    pub argon2_memory_kib: u64,
}

impl System {
    /// Starts everything and waits until the gateway routes every service.
    pub async fn start(logs: &Path, rust_log: &str) -> anyhow::Result<Self> {
        let this = std::env::current_exe().context("cannot find this executable")?;
        let bin_dir = launcher::binaries::beside_current_exe()?;
        let admin_password = format!("bench-{}", nuid::next());
        // One hash per core at the default cost: what auth would choose with no memory limit.
        let argon2_max_concurrent = crate::cli::available_cores() as u64;
        let argon2_memory_kib = u64::from(contract::deploy::DEFAULT_ARGON2_MEMORY_KIB);
        let echo = launcher::Service::new(echo::SERVICE, this)
            .arg("serve-echo")
            .routes("echo.get");
        let ports = launcher::Ports::free();
        // products again, without its outbox, on the same database: the baseline of the
        // events' cost on writes (crate::events), stopped except while that is measured.
        let plain = launcher::Service::new(
            crate::events::PLAIN,
            bin_dir.join(contract::deploy::PRODUCTS),
        )
        .env(
            env::DATABASE_URL,
            format!(
                "postgres://postgres@{}/{}",
                ports.postgres.addr,
                contract::deploy::PRODUCTS
            ),
        )
        .env(env::dev::EVENTS_OUTBOX, env::dev::EVENTS_OUTBOX_OFF);
        let mut inner = launcher::System::builder(bin_dir)
            .build_hint(
                "cargo build --release -p gateway -p auth -p customers -p products -p bench \
                 (`make bench` does)",
            )
            .log_dir(logs)
            .env(env::RUST_LOG, rust_log)
            .admin(ADMIN_EMAIL, &admin_password)
            // Tokens outlive the longest run, so the measured requests never need a new one.
            .component_env(contract::deploy::AUTH, env::ACCESS_TOKEN_TTL_MINUTES, "120")
            .component_env(
                contract::deploy::AUTH,
                env::ARGON2_MAX_CONCURRENT,
                argon2_max_concurrent.to_string(),
            )
            .component_env(
                contract::deploy::AUTH,
                env::ARGON2_MEMORY_KIB,
                argon2_memory_kib.to_string(),
            )
            // The login run sends up to the highest login concurrency of attempts on the one
            // admin account at once; auth's per-account throttle (4 by default) would answer
            // the rest 429. The run measures the hashing, not the throttle.
            .component_env(
                contract::deploy::AUTH,
                env::LOGIN_MAX_CONCURRENT,
                LOGIN_MAX_CONCURRENT.to_string(),
            )
            // Rate limits would cap what is measured; off whatever the default becomes.
            .component_env(contract::deploy::GATEWAY, env::RATE_LIMITS, "off")
            // Up to 256 clients, all from this one address.
            .component_env(
                contract::deploy::GATEWAY,
                env::MAX_CONNECTIONS_PER_ADDRESS,
                contract::deploy::DEFAULT_MAX_CONNECTIONS.to_string(),
            )
            .ports(ports)
            .service(echo)
            .service(plain)
            .progress(|line| info!("{line}"))
            .start()
            .await?;
        inner.stop_one(crate::events::PLAIN)?;
        Ok(Self {
            gateway: inner.gateway_addr(),
            inner,
            admin_password,
            argon2_max_concurrent,
            argon2_memory_kib,
        })
    }

    /// Starts `to` again, waits until it is ready, then stops `from`: the gateway's writes
    /// go to `to` alone from then on (two instances of one service).
    pub async fn swap(&mut self, from: &str, to: &str) -> anyhow::Result<()> {
        self.inner.restart(to).await?;
        let health = self
            .inner
            .health_addr(to)
            .with_context(|| format!("{to} has no health address"))?;
        let ready = testbed::poll(
            std::time::Duration::from_secs(60),
            std::time::Duration::from_millis(50),
            || async move { testbed::http::get(health, "/readyz").await.0 == 200 },
            || Ok::<_, anyhow::Error>(()),
        )
        .await?;
        if !ready {
            anyhow::bail!("{to} is not ready 60 s after its start");
        }
        self.inner.stop_one(from)?;
        Ok(())
    }

    /// Fails, with the end of its log, when one of our processes has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        Ok(self.inner.check_alive()?)
    }

    /// The processes whose memory is reported.
    pub fn tracked(&self) -> Vec<Tracked> {
        let mut out: Vec<Tracked> = self
            .inner
            .processes()
            .into_iter()
            .map(|p| {
                let kind = match (p.role, p.name.as_str()) {
                    (Role::Ours, _) => Kind::Ours,
                    // A postmaster and one backend per connection.
                    (Role::Server, "postgres") => Kind::ServerTree,
                    (Role::Server, _) => Kind::Server,
                };
                Tracked::new(p.name, p.pid, kind)
            })
            .collect();
        // Ours first, then the servers, as the report lists them.
        out.sort_by_key(|t| t.kind != Kind::Ours);
        out.push(Tracked::new(
            crate::report::LOAD_GENERATOR,
            std::process::id(),
            Kind::LoadGenerator,
        ));
        out
    }

    /// The system as the launcher runs it (addresses of its servers).
    pub fn launched(&self) -> &launcher::System {
        &self.inner
    }

    /// The NATS URL, for the direct requests.
    pub fn nats_url(&self) -> String {
        self.inner.nats_url()
    }
}
