//! The `greeter` binary: the shared configuration, telemetry, then [`greeter::run`].

use anyhow::Context as _;
use clap::Parser;
use runtime::config::CommonArgs;

/// natstack example service: greets people over NATS.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry = runtime::telemetry::init(greeter::SERVICE, &args.common.telemetry)
        .context("cannot set up telemetry")?;
    let addr = args.common.health.health_addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot bind HEALTH_ADDR {addr}"))?;
    greeter::run(args.common.nats, listener, runtime::shutdown::signal())
        .await
        .context("greeter failed")
}
