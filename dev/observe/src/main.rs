//! `make observability-test`: the stack's monitoring proven against a real Prometheus.
//!
//! Starts a whole system on this machine with the launcher, a stand-in for the NATS exporter
//! ([`exporter`]) and Debian's Prometheus scraping every component with the scrape
//! configuration the operator's ServiceMonitors and PodMonitor describe ([`scrape`]) and the
//! rules of `monitoring/rules/` loaded. Under steady load it checks that every target is up
//! and no alert of the faults is pending; then it stops a service, sends bad logins and a
//! flood the gateway refuses, and checks that the three alerts for them go pending or fire.
//! With the service back it runs every dashboard panel's query and reads every series every
//! rule reads, and draws the overview's main panels into `docs/observability.svg`.
//!
//! One line per check (`OK`, `FAIL`, or `SKIP` for what the allow-list ([`allow`]) says this
//! machine cannot produce); exits non-zero on any failure. Every process runs under the test
//! bed's supervisor and is stopped on the way out, on a failure too.

mod alerts;
mod allow;
mod dashboards;
mod exporter;
mod picture;
mod prometheus;
mod promql;
mod report;
mod scrape;
mod traffic;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result, bail};
use clap::Parser;
use contract::deploy::{self, env};
use launcher::System;

use crate::dashboards::Dashboard;
use crate::prometheus::Prometheus;
use crate::promql::Variables;
use crate::report::Checks;
use crate::scrape::Target;

const ADMIN_EMAIL: &str = "observe@example.com";
const ADMIN_PASSWORD: &str = "observe-password-123";

/// The gateway's rate limits in this run: logins are not limited (bad logins must reach
/// auth), reads are, well above the steady load and far below the flood.
const RATE_LIMITS: &str = "auth=off,write=off,read=40/s:burst 80";

/// The longest wait for a state of Prometheus (targets up, alerts pending).
const WAIT: Duration = Duration::from_secs(60);

/// The stack's monitoring against a real Prometheus.
#[derive(Debug, Parser)]
#[command(name = "observe", version)]
struct Args {
    /// Where the binaries are (default: beside this one).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// The monitoring directory (`rules/`, `dashboards/`).
    #[arg(long, default_value = "monitoring")]
    monitoring: PathBuf,
    /// Where the picture of the overview goes.
    #[arg(long, default_value = "docs/observability.svg")]
    svg: PathBuf,
}

// The checks are this program's output.
#[allow(clippy::print_stdout)]
#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut checks = Checks::default();
    let outcome = run(&args, &mut checks).await;
    println!("{}", checks.summary());
    match outcome {
        Err(e) => {
            println!("FAIL  the run stopped: {e:#}");
            ExitCode::FAILURE
        }
        Ok(()) if !checks.failures().is_empty() => {
            println!("failed: {}", checks.failures().join("; "));
            ExitCode::FAILURE
        }
        Ok(()) => ExitCode::SUCCESS,
    }
}

async fn run(args: &Args, checks: &mut Checks) -> Result<()> {
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => launcher::binaries::beside_current_exe()?,
    };
    let rule_files = [
        args.monitoring.join("rules/stack.rules.yaml"),
        args.monitoring.join("rules/operator.rules.yaml"),
    ];
    checks.check("promtool check rules", prometheus::check_rules(&rule_files));
    let boards = Dashboard::load_all(&args.monitoring.join("dashboards"))?;
    for board in &boards {
        checks.check(
            &format!(
                "dashboard {}: schema {} and variables {:?}",
                board.file,
                dashboards::SCHEMA_VERSION,
                dashboards::VARIABLES
            ),
            board.check_declarations(),
        );
    }
    checks.note("the operator does not run here: operator.rules.yaml is loaded, its rules are proven by promtool unit tests only");
    checks.note("prometheus-nats-exporter is not installed here; a stand-in serves /varz and /routez under its names, without:");
    for missing in exporter::NOT_HONOURED {
        checks.note(&format!("  - {missing}"));
    }
    checks.note("allow-list (no series expected here):");
    for (prefix, why) in allow::ALLOWED {
        checks.note(&format!("  - {prefix}*: {why}"));
    }

    let nats_monitor = testbed::free_port();
    let mut system = match start(&bin_dir, nats_monitor).await {
        Ok(system) => system,
        Err(e) => {
            checks.note(&format!(
                "the start failed ({e:#}); trying again on fresh ports"
            ));
            start(&bin_dir, testbed::free_port()).await?
        }
    };
    let temp = tempfile::Builder::new()
        .prefix("natstack-observe-")
        .tempdir()?;
    let targets = targets(&system, temp.path(), nats_monitor).await?;
    let loaded = write_rules(&rule_files, temp.path())?;
    let config = scrape::config(
        &targets,
        &loaded.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
    );
    let config_file = temp.path().join("prometheus.yml");
    std::fs::write(&config_file, serde_json::to_vec_pretty(&config)?)?;
    let prom_addr = std::net::SocketAddr::from(([127, 0, 0, 1], testbed::free_port()));
    let prometheus = Prometheus::start(temp.path(), &config_file, prom_addr).await?;
    checks.note(&format!(
        "Prometheus on http://{prom_addr}, scraping {} targets every second",
        targets.len()
    ));

    let api = system.api();
    let token = login(&api).await?;
    let started = unix_now();
    let steady = traffic::steady(&api, &token, ADMIN_EMAIL, ADMIN_PASSWORD);

    // Before the faults.
    let up = wait_for(WAIT, || async {
        down_targets(&prometheus).await.is_ok_and(|d| d.is_empty())
    })
    .await;
    checks.check(
        &format!("every target up ({} targets)", targets.len()),
        if up {
            Ok(())
        } else {
            Err(format!("down: {:?}", down_targets(&prometheus).await?))
        },
    );
    // Some seconds of samples, evaluated by every rule, before alerts are read.
    let settled = wait_for(WAIT, || async {
        prometheus
            .query(&format!(
                "count_over_time(up{{{}=\"{}\"}}[1m]) >= 8",
                deploy::METRIC_LABEL_COMPONENT,
                deploy::GATEWAY
            ))
            .await
            .is_ok_and(|r| !r.is_empty())
    })
    .await;
    if !settled {
        bail!("Prometheus has not scraped the gateway eight times in {WAIT:?}");
    }
    let groups = prometheus.rule_groups().await?;
    let loaded_rules: Vec<String> = alerts::rules(&groups).into_iter().map(|r| r.0).collect();
    let before = alerts::active(&prometheus).await?;
    for name in alerts::EXPECTED {
        let result = if !loaded_rules.iter().any(|r| r == name) {
            Err(format!(
                "no rule named {name} is loaded from {}",
                rule_files[0].display()
            ))
        } else if before.contains(name) {
            Err("pending or firing already".to_owned())
        } else {
            Ok(())
        };
        checks.check(
            &format!("{name} neither pending nor firing before the faults"),
            result,
        );
    }
    let others: Vec<&String> = before
        .iter()
        .filter(|a| !alerts::EXPECTED.contains(&a.as_str()))
        .collect();
    if !others.is_empty() {
        checks.note(&format!(
            "other alerts pending or firing before the faults: {others:?}"
        ));
    }

    // The faults.
    checks.note(&format!(
        "faults: {} stopped, bad logins, a flood of reads",
        deploy::CUSTOMERS
    ));
    system.stop_one(deploy::CUSTOMERS)?;
    let bad_logins = traffic::bad_logins(&api);
    let flood = traffic::flood(&api, &token, 8);
    let raised = wait_for(WAIT, || async {
        alerts::active(&prometheus)
            .await
            .is_ok_and(|a| alerts::EXPECTED.iter().all(|e| a.contains(*e)))
    })
    .await;
    let during = alerts::active(&prometheus).await?;
    let _ = raised;
    for name in alerts::EXPECTED {
        checks.check(
            &format!("{name} pending or firing during the faults"),
            if during.contains(name) {
                Ok(())
            } else {
                Err(format!("active: {during:?}"))
            },
        );
    }
    checks.note(&format!(
        "bad logins answered {:?}",
        bad_logins.stop().await
    ));
    checks.note(&format!("flood answered {:?}", flood.stop().await));

    // The service back, then every query.
    system.restart(deploy::CUSTOMERS).await?;
    // Back once Prometheus has its first rate of requests served since the restart: the
    // panels' rates need two samples of its new counters.
    let served = format!(
        "sum(rate(natstack_service_requests_total{{{}=\"{}\", {}=\"{}\"}}[10s])) > 0",
        deploy::METRIC_LABEL_STACK,
        scrape::STACK,
        deploy::METRIC_LABEL_COMPONENT,
        deploy::CUSTOMERS
    );
    let back = wait_for(WAIT, || async {
        down_targets(&prometheus).await.is_ok_and(|d| d.is_empty())
            && prometheus.query(&served).await.is_ok_and(|r| !r.is_empty())
    })
    .await;
    checks.check(
        &format!(
            "{} scraped and serving again once restarted",
            deploy::CUSTOMERS
        ),
        if back {
            Ok(())
        } else {
            Err(format!("no series for {served}, or a target down"))
        },
    );
    let variables = Variables {
        namespace: scrape::NAMESPACE.to_owned(),
        stack: scrape::STACK.to_owned(),
        interval: "1m".to_owned(),
    };
    for board in &boards {
        for query in board.queries() {
            let what = format!("{} / {}: returns series", board.file, query.panel);
            check_query(&prometheus, &variables, &query.expr, &what, checks).await;
        }
    }
    let groups = prometheus.rule_groups().await?;
    alerts::check_series_exist(&prometheus, &groups, checks).await;

    let ended = unix_now();
    let overview = boards
        .iter()
        .find(|b| b.file == "overview.json")
        .context("no overview.json")?;
    let sharp = Variables {
        interval: "10s".to_owned(),
        ..variables
    };
    picture::write(
        &prometheus,
        &overview.queries(),
        &sharp,
        (started, ended),
        &args.svg,
    )
    .await?;
    checks.note(&format!(
        "wrote {} ({:.0} s of the run)",
        args.svg.display(),
        ended - started
    ));
    checks.note(&format!("steady load answered {:?}", steady.stop().await));
    drop(prometheus);
    system.stop();
    Ok(())
}

/// The system of `make run` with the test's rate limits and nats-server's monitor port.
async fn start(bin_dir: &Path, nats_monitor: u16) -> Result<System> {
    System::builder(bin_dir)
        .build_hint("cargo build -p observe -p gateway -p auth -p customers -p products")
        .admin(ADMIN_EMAIL, ADMIN_PASSWORD)
        .env(env::RUST_LOG, "warn")
        .env(env::DISCOVERY_INTERVAL_MS, "200")
        .component_env(deploy::GATEWAY, env::RATE_LIMITS, RATE_LIMITS)
        .nats_monitor(nats_monitor)
        .start()
        .await
        .context("starting the system")
}

/// The table of targets: every component's health address, and the NATS exporter's
/// stand-in, started here.
async fn targets(system: &System, _dir: &Path, nats_monitor: u16) -> Result<Vec<Target>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let exporter_addr = listener.local_addr()?;
    let monitor = std::net::SocketAddr::from(([127, 0, 0, 1], nats_monitor));
    tokio::spawn(exporter::serve(listener, monitor));
    scrape::COMPONENTS
        .iter()
        .map(|component| {
            let addr = if *component == deploy::NATS {
                Some(exporter_addr)
            } else {
                system.health_addr(component)
            };
            addr.map(|addr| Target { component, addr })
                .with_context(|| format!("no address of {component}"))
        })
        .collect()
}

/// The rule files with the stack's placeholders replaced by this run's labels, in `dir`.
fn write_rules(files: &[PathBuf], dir: &Path) -> Result<Vec<PathBuf>> {
    files
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let text = text
                .replace(deploy::RULES_NAMESPACE_PLACEHOLDER, scrape::NAMESPACE)
                .replace(deploy::RULES_STACK_PLACEHOLDER, scrape::STACK);
            let out = dir.join(file.file_name().context("a rule file without a name")?);
            std::fs::write(&out, text)?;
            Ok(out)
        })
        .collect()
}

/// Checks that `expr` (with `variables` put in) returns series, or that everything it reads
/// is allow-listed.
async fn check_query(
    prometheus: &Prometheus,
    variables: &Variables,
    expr: &str,
    what: &str,
    checks: &mut Checks,
) {
    let query = variables.apply(expr);
    match prometheus.query(&query).await {
        Ok(result) if !result.is_empty() => checks.check(what, Ok(())),
        Ok(_) => {
            let selectors = promql::selectors(&query);
            match allow::all_allowed(selectors.iter().map(|s| promql::metric_name(s))) {
                Some(why) => checks.skip(what, why),
                None => checks.check(what, Err(format!("no series for {query}"))),
            }
        }
        Err(e) => checks.check(what, Err(format!("{e:#}"))),
    }
}

/// The targets not up, with their last error.
async fn down_targets(prometheus: &Prometheus) -> Result<Vec<String>> {
    Ok(prometheus
        .targets()
        .await?
        .iter()
        .filter(|t| t["health"] != "up")
        .map(|t| {
            format!(
                "{} ({})",
                t["scrapeUrl"].as_str().unwrap_or_default(),
                t["lastError"].as_str().unwrap_or_default()
            )
        })
        .collect())
}

/// Polls `condition` every 200 ms until it holds (`true`) or `timeout` passes (`false`).
async fn wait_for<F, Fut>(timeout: Duration, condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let never = || Ok::<(), std::convert::Infallible>(());
    testbed::poll(timeout, Duration::from_millis(200), condition, never).await == Ok(true)
}

async fn login(api: &testbed::http::Api) -> Result<String> {
    api.login_within(ADMIN_EMAIL, ADMIN_PASSWORD, WAIT)
        .await
        .context("the admin's login")
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
