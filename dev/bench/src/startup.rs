//! Start-up time (issue 30, item 3), measured beside the running system (NATS and the databases
//! already up), each binary started as its own extra process:
//!
//! - **exec to ready**: from just before the process is spawned until its `/readyz` answers 200
//!   and, for a service, its new instance answers `$SRV.PING.<service>` (an instance id the
//!   ping did not list before). Both are polled every few milliseconds, so a figure is late by
//!   at most one poll;
//! - **cold**: the first start on a fresh database (`CREATE DATABASE` for customers and
//!   products: migrations and seed run; a fresh MongoDB database for auth: the administrator
//!   is created, one argon2 hash), with the page cache dropped first when
//!   `/proc/sys/vm/drop_caches` may be written (it is tried, and the report says whether it
//!   worked). The gateway has no database: its cold start is measured only when the cache
//!   could be dropped;
//! - **warm**: the same binary started again at once on the database the cold start prepared;
//! - **routed**: a second instance of a service started while the first one serves and the
//!   [stock gateway](crate::stock) (a stack's defaults) is up, with requests driven through
//!   that gateway back to back; the time from its exec to the first reply it produced. The
//!   second instance runs on its own copy of the data in which the requested rows are marked
//!   ([`MARK`]), so the reply itself says which instance answered (auth's instance signs
//!   with its own ephemeral key: its JWKS differs from the first instance's). NATS spreads a
//!   queue group's requests over its members, so the new instance gets requests as soon as its
//!   subscriptions reach the server, with no discovery in between.
//!
//! auth's second instance publishes another key: run last, when no token is needed any more.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use contract::deploy::{self, env};
use http::Method;
use runtime::discover::{self, GatherOptions};
use testbed::process::{Child, Spec};
use tracing::info;

use crate::cli::Options;
use crate::load::{self, HttpRequest};
use crate::startup_report::{Samples, Startup, StartupRecord};
use crate::stock::{self, StockGateway};
use crate::system::{ADMIN_EMAIL, System};

/// The name `--only` selects this scenario by.
pub const SELECTOR: &str = "startup";
/// What the second instance's data says where the first one's does not.
pub const MARK: &str = "startup-replica";
/// How long a start may take before the run fails.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How often readiness and registration are polled.
const POLL: Duration = Duration::from_millis(3);

/// A service measured: its name, the request routed to it, and how its data is marked.
struct Measured {
    name: &'static str,
    path: &'static str,
    /// The SQL that marks a copy of its data (none: auth, whose JWKS differs by itself).
    mark: Option<&'static str>,
}

const SERVICES: [Measured; 3] = [
    Measured {
        name: deploy::CUSTOMERS,
        path: "/customers?limit=20",
        mark: Some("UPDATE customers SET company_name = 'startup-replica'"),
    },
    Measured {
        name: deploy::PRODUCTS,
        path: "/products/7",
        mark: Some("UPDATE products SET product_name = 'startup-replica' WHERE product_id = 7"),
    },
    // Last: its second instance publishes a key tokens were not signed with.
    Measured {
        name: deploy::AUTH,
        path: "/.well-known/jwks.json",
        mark: None,
    },
];

/// Everything a start needs from the running system.
struct Env<'a> {
    system: &'a System,
    nats: async_nats::Client,
    bin_dir: std::path::PathBuf,
    logs: &'a Path,
    rust_log: &'a str,
}

/// Measures every binary's start-up; `token` is the admin's, for the routed requests.
pub async fn measure(system: &System, token: &str, options: &Options) -> anyhow::Result<Startup> {
    let nats = async_nats::connect(system.nats_url())
        .await
        .context("cannot connect to NATS")?;
    let cx = Env {
        system,
        nats,
        bin_dir: launcher::binaries::beside_current_exe()?,
        logs: &options.logs,
        rust_log: &options.rust_log,
    };
    let samples = options.startup_samples.max(1);
    let caches_dropped = drop_caches();
    let mut out = Startup {
        caches_dropped,
        binaries: Vec::new(),
    };

    // The gateway: no database, so cold only when the page cache could be dropped.
    let stock = StockGateway::new(system)?;
    let mut gateway = StartupRecord {
        binary: deploy::GATEWAY.to_owned(),
        cold: Samples::default(),
        warm: Samples::default(),
        routed: Samples::default(),
    };
    for _ in 0..samples {
        if caches_dropped {
            drop_caches();
            let (ms, mut child) =
                time_to_ready(&cx, stock.spec.clone(), stock.health, None).await?;
            gateway.cold.ms.push(ms);
            stock::stop(&mut child);
        }
        let (ms, mut child) = time_to_ready(&cx, stock.spec.clone(), stock.health, None).await?;
        gateway.warm.ms.push(ms);
        stock::stop(&mut child);
    }
    info!(cold = ?gateway.cold.ms, warm = ?gateway.warm.ms, "gateway start-up measured");
    out.binaries.push(gateway);

    // The gateway new instances are routed through, up for the rest.
    let mut routing = stock
        .start(cx.logs, &["auth.jwks", "customers.list", "products.get"])
        .await?;
    let result = services(&cx, &stock, token, samples, caches_dropped, &mut out).await;
    stock::stop(&mut routing);
    result?;
    Ok(out)
}

async fn services(
    cx: &Env<'_>,
    stock: &StockGateway,
    token: &str,
    samples: usize,
    caches_dropped: bool,
    out: &mut Startup,
) -> anyhow::Result<()> {
    for service in &SERVICES {
        let mut record = StartupRecord {
            binary: service.name.to_owned(),
            cold: Samples::default(),
            warm: Samples::default(),
            routed: Samples::default(),
        };
        for i in 0..samples {
            let database = format!("startup_{}_{i}", service.name);
            create_database(cx, service.name, &database).await?;
            let health = stock::loopback(testbed::free_port());
            let spec = service_spec(cx, service.name, &database, health);
            if caches_dropped {
                drop_caches();
            }
            let (ms, mut child) =
                time_to_ready(cx, spec.clone(), health, Some(service.name)).await?;
            record.cold.ms.push(ms);
            stock::stop(&mut child);
            let (ms, mut child) = time_to_ready(cx, spec, health, Some(service.name)).await?;
            record.warm.ms.push(ms);
            stock::stop(&mut child);
        }
        // The second instances run on the first cold start's data, marked.
        let database = format!("startup_{}_0", service.name);
        if let Some(sql) = service.mark {
            psql(cx, &database, sql).await?;
        }
        let request = HttpRequest {
            addr: stock.addr,
            method: Method::GET,
            path: service.path.to_owned(),
            token: Some(token.to_owned()),
            body: None,
        };
        let first = reply_body(&request).await?;
        if first.contains(MARK) {
            bail!(
                "{} answers with the mark before a second instance runs",
                service.path
            );
        }
        for _ in 0..samples {
            let health = stock::loopback(testbed::free_port());
            let spec = service_spec(cx, service.name, &database, health);
            record
                .routed
                .ms
                .push(time_to_routed(cx, spec, &request, &first, service.mark.is_some()).await?);
        }
        info!(service = service.name, cold = ?record.cold.ms, warm = ?record.warm.ms,
            routed = ?record.routed.ms, "service start-up measured");
        out.binaries.push(record);
    }
    Ok(())
}

/// A service's process on `database` (PostgreSQL's for customers and products, MongoDB's for
/// auth), with the variables the launcher gives the system's instance.
fn service_spec(cx: &Env<'_>, name: &'static str, database: &str, health: SocketAddr) -> Spec {
    let launched = cx.system.launched();
    let mut spec = Spec::new(format!("{name}-startup"), cx.bin_dir.join(name));
    let mut vars = vec![
        (env::NATS_URL, cx.system.nats_url()),
        (env::HEALTH_ADDR, health.to_string()),
        (env::OTEL_SERVICE_NAME, name.to_owned()),
        (env::RUST_LOG, cx.rust_log.to_owned()),
    ];
    if name == deploy::AUTH {
        vars.push((env::MONGODB_URL, launched.mongo_url()));
        vars.push((env::MONGODB_DATABASE, database.to_owned()));
        if let Some((email, password)) = launched.admin() {
            debug_assert_eq!(email, ADMIN_EMAIL);
            vars.push((env::ADMIN_EMAIL, email.to_owned()));
            vars.push((env::ADMIN_PASSWORD, password.to_owned()));
        }
    } else {
        vars.push((env::DATABASE_URL, launched.postgres_url(database)));
    }
    spec.env = vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    spec
}

/// Spawns `spec` and waits until it is ready: `/readyz` on `health` answers 200 and, for a
/// service, a new instance of it answers `$SRV.PING`. Returns the milliseconds from just
/// before the spawn, and the running child.
async fn time_to_ready(
    cx: &Env<'_>,
    spec: Spec,
    health: SocketAddr,
    service: Option<&str>,
) -> anyhow::Result<(f64, Child)> {
    let before = match service {
        Some(name) => instances(&cx.nats, name, usize::MAX).await?,
        None => BTreeSet::new(),
    };
    let log = cx.logs.join(format!("{}.log", spec.name));
    let started = Instant::now();
    let mut child = Child::spawn(spec, &log)?;
    let deadline = started + START_TIMEOUT;
    let ready = async {
        loop {
            if testbed::http::get(health, deploy::READYZ_PATH).await.0 == 200 {
                return Ok(started.elapsed());
            }
            child.check()?;
            if Instant::now() > deadline {
                bail!("not ready {} s after its start", START_TIMEOUT.as_secs());
            }
            tokio::time::sleep(POLL).await;
        }
    };
    let registered = async {
        let Some(name) = service else {
            return Ok(Duration::ZERO);
        };
        loop {
            let now = instances(&cx.nats, name, before.len() + 1).await?;
            if now.iter().any(|id| !before.contains(id)) {
                return Ok(started.elapsed());
            }
            if Instant::now() > deadline {
                bail!(
                    "{name} not registered {} s after its start",
                    START_TIMEOUT.as_secs()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    };
    let (ready, registered) = tokio::join!(ready, registered);
    let elapsed = ready
        .and_then(|r| Ok(r.max(registered?)))
        .with_context(|| format!("{}: see {}", child.name, log.display()))?;
    Ok((elapsed.as_secs_f64() * 1e3, child))
}

/// The instance ids answering `$SRV.PING.<name>`, gathered until `expect` replies came or
/// replies stalled for a few milliseconds.
async fn instances(
    nats: &async_nats::Client,
    name: &str,
    expect: usize,
) -> anyhow::Result<BTreeSet<String>> {
    let options = GatherOptions {
        total: Duration::from_millis(500),
        stall: Duration::from_millis(5),
        max: expect,
    };
    Ok(discover::ping(nats, Some(name), options)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect())
}

/// Spawns a second instance from `spec`, sends `request` through the gateway back to back,
/// and returns the milliseconds from just before the spawn to the first reply the new
/// instance made: one carrying [`MARK`] (`marked`), or else one differing from `first`.
async fn time_to_routed(
    cx: &Env<'_>,
    spec: Spec,
    request: &HttpRequest,
    first: &str,
    marked: bool,
) -> anyhow::Result<f64> {
    let log = cx.logs.join(format!("{}.log", spec.name));
    let mut connection = load::connect(request.addr).await?;
    let started = Instant::now();
    let mut child = Child::spawn(spec, &log)?;
    let result = async {
        loop {
            let (status, body) = load::exchange(&mut connection, request)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", request.path))?;
            let body = String::from_utf8_lossy(&body);
            let new = if marked {
                body.contains(MARK)
            } else {
                body != first
            };
            if status.is_success() && new {
                return Ok(started.elapsed().as_secs_f64() * 1e3);
            }
            child.check()?;
            if started.elapsed() > START_TIMEOUT {
                bail!(
                    "no reply from the new instance {} s after its start (see {})",
                    START_TIMEOUT.as_secs(),
                    log.display()
                );
            }
        }
    }
    .await;
    stock::stop(&mut child);
    result
}

/// One reply's body (a failure is an error).
async fn reply_body(request: &HttpRequest) -> anyhow::Result<String> {
    let mut connection = load::connect(request.addr).await?;
    let (status, body) = load::exchange(&mut connection, request)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", request.path))?;
    if !status.is_success() {
        bail!("{} answered HTTP {status}", request.path);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Creates the database a cold start of `service` begins with: a PostgreSQL database for
/// customers and products; auth's MongoDB database is created by its first write.
async fn create_database(cx: &Env<'_>, service: &str, database: &str) -> anyhow::Result<()> {
    if service == deploy::AUTH {
        return Ok(());
    }
    psql(cx, "postgres", &format!("CREATE DATABASE {database}")).await
}

/// Runs one SQL statement in `database` with `psql`.
async fn psql(cx: &Env<'_>, database: &str, sql: &str) -> anyhow::Result<()> {
    let psql = testbed::programs::pg_bin_dir()
        .map(|d| d.join("psql"))
        .ok()
        .filter(|p| p.is_file())
        .unwrap_or_else(|| "psql".into());
    let url = cx.system.launched().postgres_url(database);
    let output = tokio::process::Command::new(psql)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url, "-c", sql])
        .output()
        .await
        .context("cannot run psql")?;
    if !output.status.success() {
        bail!(
            "psql `{sql}` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Empties the page cache (after writing dirty pages out), so the next exec reads its binary
/// from disk (dirty pages stay); whether the kernel allowed it (root outside a container, usually).
fn drop_caches() -> bool {
    std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}
