//! `make chaos`: the resilience suite. Starts a whole system on this machine (two products
//! instances), then injects one fault or abuse after another under load and prints, per
//! scenario, the requests sent, the failures by status and the recovery time. Exits non-zero
//! when anything was lost that the README's reliability section says will not be.
//!
//! `--fast` runs the quick subset `make test` runs: kill -9 and SIGTERM of an instance,
//! random methods against `/metrics`, id exhaustion. The full run adds slow clients, the
//! connection cap, restarts of nats-server and PostgreSQL, domain events delivered exactly once
//! through kill -9 of an instance and of nats-server ([`events`]), and a login flood
//! ([`login_flood`]).

mod events;
mod floods;
mod load;
mod login_flood;
mod report;
mod scenarios;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::Parser;
use contract::deploy::{self, env};
use launcher::{Address, Ports, Service, System};

use crate::scenarios::{Chaos, SECOND};

const ADMIN_EMAIL: &str = "chaos@example.com";
const ADMIN_PASSWORD: &str = "chaos-password-123";

/// The resilience suite against a whole system on free ports.
#[derive(Debug, Parser)]
#[command(name = "chaos", version)]
struct Args {
    /// Only the quick scenarios (what `make test` runs).
    #[arg(long)]
    fast: bool,
    /// Only the domain events scenario.
    #[arg(long, conflicts_with = "fast")]
    events_only: bool,
    /// Where the binaries are (default: beside this one).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

// The table is this program's output.
#[allow(clippy::print_stdout)]
#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let bin_dir = match args.bin_dir {
        Some(dir) => dir,
        None => launcher::binaries::beside_current_exe()?,
    };
    println!("starting the system (two products instances)…");
    // Free ports are found before they are bound: on a busy machine another program may
    // take one in between, so a failed start is tried again on fresh ports.
    let mut chaos = match start(&bin_dir).await {
        Ok(chaos) => chaos,
        Err(e) => {
            println!("the start failed ({e:#}); trying again on fresh ports");
            start(&bin_dir).await?
        }
    };
    if args.events_only {
        let outcome = events::delivery(&mut chaos).await?;
        return finish(chaos, &[outcome]);
    }
    let mut outcomes = vec![
        scenarios::kill_instance(&mut chaos).await?,
        scenarios::stop_instance(&mut chaos).await?,
        scenarios::random_methods(&mut chaos, if args.fast { 500 } else { 5000 }).await?,
        scenarios::id_exhaustion(&mut chaos).await?,
    ];
    if !args.fast {
        // Below the cap: these connections are served, and so is everyone else.
        outcomes.push(scenarios::slow_clients(&mut chaos, 200).await?);
        outcomes.push(scenarios::connection_cap(&mut chaos).await?);
        outcomes.push(floods::unfinished_heads(&mut chaos, 1000).await?);
        outcomes.push(floods::slow_bodies(&mut chaos, 300).await?);
        outcomes.push(scenarios::restart_server(&mut chaos, "nats-server").await?);
        outcomes.push(events::delivery(&mut chaos).await?);
        outcomes.push(scenarios::restart_server(&mut chaos, "postgres").await?);
        // Last: it leaves 400 locked (address, account) pairs behind.
        outcomes.push(login_flood::login_flood(&mut chaos).await?);
    }
    finish(chaos, &outcomes)
}

/// Prints the table, stops the system and fails when a scenario did.
#[allow(clippy::print_stdout)]
fn finish(chaos: Chaos, outcomes: &[report::Outcome]) -> Result<()> {
    println!("{}", report::table(outcomes));
    chaos.system.stop();
    let failed = outcomes.iter().filter(|o| o.verdict.is_err()).count();
    if failed > 0 {
        bail!("{failed} scenario(s) broke a promise of the README's reliability section");
    }
    Ok(())
}

/// The system of `make run` with a second products instance and known health addresses.
async fn start(bin_dir: &std::path::Path) -> Result<Chaos> {
    let mut ports = Ports::free();
    let gateway_health = Address::free();
    let second_health = Address::free();
    ports.health.insert(deploy::GATEWAY, gateway_health);
    ports.health.insert(SECOND, second_health);
    let products_db = format!(
        "postgres://postgres@{}/{}",
        ports.postgres.addr,
        deploy::PRODUCTS
    );
    let second =
        Service::new(SECOND, bin_dir.join(deploy::PRODUCTS)).env(env::DATABASE_URL, products_db);
    let system = System::builder(bin_dir)
        .build_hint("cargo build -p chaos -p gateway -p auth -p customers -p products")
        .ports(ports.clone())
        .admin(ADMIN_EMAIL, ADMIN_PASSWORD)
        // The load comes from one address and one user: the rate limits are not under test.
        .env(env::RATE_LIMITS, "off")
        .env(env::RUST_LOG, "warn")
        .env(env::DISCOVERY_INTERVAL_MS, "200")
        // A stalled event stream shows within a few seconds (the events scenario reopens it).
        .component_env(deploy::GATEWAY, env::EVENTS_HEARTBEAT_MS, "1000")
        // The limits the operator renders for the gateway's default memory limit.
        .component_env(
            deploy::GATEWAY,
            env::MAX_CONNECTIONS,
            scenarios::gateway_connection_cap().to_string(),
        )
        .component_env(
            deploy::GATEWAY,
            env::BODY_BUDGET_BYTES,
            deploy::gateway_memory(floods::GATEWAY_MEMORY)
                .body_budget_bytes
                .to_string(),
        )
        .service(second)
        .start()
        .await
        .context("starting the system")?;
    let api = system.api();
    let token = login(&api).await?;
    Ok(Chaos {
        system,
        api,
        token,
        gateway_health: gateway_health.addr,
        second_health: second_health.addr,
        pg_port: ports.postgres.port(),
    })
}

pub(crate) async fn login(api: &testbed::http::Api) -> Result<String> {
    api.login_within(ADMIN_EMAIL, ADMIN_PASSWORD, Duration::from_secs(60))
        .await
        .context("the admin's login")
}
