//! The auth service binary: configuration, telemetry, then [`auth::run`].

use anyhow::Context;
use clap::Parser;

/// The natstack auth service.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    common: runtime::config::CommonArgs,
    #[command(flatten)]
    auth: auth::Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry = runtime::telemetry::init(auth::SERVICE, &args.common.telemetry)?;
    let listener = tokio::net::TcpListener::bind(args.common.health.health_addr)
        .await
        .with_context(|| format!("cannot bind {}", args.common.health.health_addr))?;
    auth::run(
        args.common.nats,
        args.auth,
        listener,
        runtime::shutdown::signal(),
    )
    .await
    .context("auth service failed")
}
