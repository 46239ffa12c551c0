//! The system under test, started as `make run` starts it: nats-server, PostgreSQL (databases
//! `customers` and `products`), the MongoDB-wire server, then auth, customers, products, the
//! echo service and the gateway, each its own process, on free loopback ports. Everything is
//! stopped when [`System`] is dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use runtime::test_support::{MongoServer, NatsServer, PgServer, free_port, http_get};
use tracing::info;

use crate::memory::{Kind, Tracked};

/// The binaries `make bench` builds, besides this one.
const BINARIES: [&str; 4] = ["gateway", "auth", "customers", "products"];

/// What the gateway must route before a run starts: one subject of every service.
const ROUTED: [&str; 4] = ["auth.login", "customers.list", "products.get", "echo.get"];

/// The administrator the auth service creates at start.
pub const ADMIN_EMAIL: &str = "bench-admin@example.com";

/// One of our processes.
struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, as Kubernetes and `make run` stop a process; SIGKILL after 10 s.
    fn stop(&mut self) {
        if !self.alive() {
            return;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // kill(2) with SIGTERM; failure means it has just exited.
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !self.alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The running system.
pub struct System {
    // Field order is drop order: our processes stop before the servers they use.
    processes: Vec<Process>,
    nats: NatsServer,
    postgres: PgServer,
    mongo: MongoServer,
    /// The gateway's HTTP address.
    pub gateway: SocketAddr,
    /// The admin's password (generated for this run).
    pub admin_password: String,
}

impl System {
    /// Starts everything and waits until the gateway routes every service.
    pub async fn start(logs: &Path, rust_log: &str) -> anyhow::Result<Self> {
        let bin_dir = binaries_dir()?;
        std::fs::create_dir_all(logs)
            .with_context(|| format!("cannot create the log directory {}", logs.display()))?;
        info!("starting nats-server, PostgreSQL and nx-27017");
        let nats = NatsServer::start().await.context("nats-server")?;
        let postgres = PgServer::start().await.context("PostgreSQL")?;
        let customers_url = postgres.create_database("customers").await?;
        let products_url = postgres.create_database("products").await?;
        let mongo = MongoServer::start().await.context("nx-27017")?;

        let gateway = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let admin_password = format!("bench-{}", nuid::next());
        let nats_url = nats.url();
        let mut system = Self {
            processes: Vec::new(),
            nats,
            postgres,
            mongo,
            gateway,
            admin_password,
        };
        let common = |name: &str| {
            vec![
                ("NATS_URL".to_owned(), nats_url.clone()),
                ("RUST_LOG".to_owned(), rust_log.to_owned()),
                ("LOG_FORMAT".to_owned(), "pretty".to_owned()),
                (
                    "HEALTH_ADDR".to_owned(),
                    format!("127.0.0.1:{}", free_port()),
                ),
                ("OTEL_SERVICE_NAME".to_owned(), name.to_owned()),
            ]
        };
        let mut auth_env = common("auth");
        auth_env.extend([
            ("MONGODB_URL".to_owned(), system.mongo.url()),
            ("ADMIN_EMAIL".to_owned(), ADMIN_EMAIL.to_owned()),
            ("ADMIN_PASSWORD".to_owned(), system.admin_password.clone()),
            ("ACCESS_TOKEN_TTL_MINUTES".to_owned(), "120".to_owned()),
        ]);
        let mut customers_env = common("customers");
        customers_env.push(("DATABASE_URL".to_owned(), customers_url));
        let mut products_env = common("products");
        products_env.push(("DATABASE_URL".to_owned(), products_url));
        let mut gateway_env = common("gateway");
        gateway_env.extend([
            ("LISTEN_ADDR".to_owned(), gateway.to_string()),
            ("DISCOVERY_INTERVAL_MS".to_owned(), "1000".to_owned()),
        ]);

        let this = std::env::current_exe().context("cannot find this executable")?;
        system.spawn("auth", &bin_dir.join("auth"), &[], auth_env, logs)?;
        system.spawn(
            "customers",
            &bin_dir.join("customers"),
            &[],
            customers_env,
            logs,
        )?;
        system.spawn(
            "products",
            &bin_dir.join("products"),
            &[],
            products_env,
            logs,
        )?;
        system.spawn("echo", &this, &["serve-echo"], common("echo"), logs)?;
        system.spawn("gateway", &bin_dir.join("gateway"), &[], gateway_env, logs)?;
        system.wait_routed(Duration::from_secs(120)).await?;
        Ok(system)
    }

    fn spawn(
        &mut self,
        name: &'static str,
        program: &Path,
        args: &[&str],
        env: Vec<(String, String)>,
        logs: &Path,
    ) -> anyhow::Result<()> {
        let log = logs.join(format!("{name}.log"));
        let out = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(program)
            .args(args)
            .envs(env)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        self.processes.push(Process { name, child, log });
        Ok(())
    }

    /// Waits until the gateway's `/services` lists every subject of [`ROUTED`], failing early
    /// (with the end of its log) when a process exits.
    async fn wait_routed(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_alive()?;
            let (status, body) = http_get(self.gateway, "/services").await;
            if status == 200
                && ROUTED
                    .iter()
                    .all(|s| body.contains(&format!("\"subject\":\"{s}\"")))
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the gateway does not route {ROUTED:?} after {timeout:?}; /services answered {status}: {body}"
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fails, with the end of its log, when one of our processes has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        for process in &mut self.processes {
            if !process.alive() {
                bail!(
                    "{} exited; the end of its log ({}):\n{}",
                    process.name,
                    process.log.display(),
                    process.log_tail()
                );
            }
        }
        Ok(())
    }

    /// The processes whose memory is reported.
    pub fn tracked(&self) -> Vec<Tracked> {
        let mut out: Vec<Tracked> = self
            .processes
            .iter()
            .map(|p| Tracked::new(p.name, p.child.id(), Kind::Ours))
            .collect();
        out.extend(
            self.nats
                .pid()
                .map(|pid| Tracked::new("nats-server", pid, Kind::Server)),
        );
        out.extend(
            self.postgres
                .pid()
                .map(|pid| Tracked::new("postgres", pid, Kind::ServerTree)),
        );
        out.extend(
            self.mongo
                .pid()
                .map(|pid| Tracked::new("nx-27017", pid, Kind::Server)),
        );
        out.push(Tracked::new(
            "bench",
            std::process::id(),
            Kind::LoadGenerator,
        ));
        out
    }

    /// The NATS URL, for the direct requests.
    pub fn nats_url(&self) -> String {
        self.nats.url()
    }
}

impl Drop for System {
    fn drop(&mut self) {
        // The gateway first, then the services, as `make run` stops them.
        for process in self.processes.iter_mut().rev() {
            process.stop();
        }
    }
}

/// Where the release binaries are: next to this one.
fn binaries_dir() -> anyhow::Result<PathBuf> {
    let this = std::env::current_exe().context("cannot find this executable")?;
    let dir = this
        .parent()
        .context("this executable has no directory")?
        .to_owned();
    for name in BINARIES {
        if !dir.join(name).is_file() {
            bail!(
                "{} is missing; build the binaries first: cargo build --release -p gateway -p auth \
                 -p customers -p products -p bench (`make bench` does)",
                dir.join(name).display()
            );
        }
    }
    Ok(dir)
}
