//! The `operator` binary: parses flags, starts the health/metrics server and runs the controller.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use operator::server::{self, Health};

/// Reconciles MicroserviceStack resources.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Watch only this namespace; cluster-wide when unset.
    #[arg(long, env = "WATCH_NAMESPACE")]
    namespace: Option<String>,
    /// Address of `/livez`, `/readyz` and `/metrics`.
    #[arg(long, env = "HEALTH_ADDR", default_value = "0.0.0.0:9090")]
    health_addr: SocketAddr,
    /// Seconds between drift-correcting reconciles of a healthy stack.
    #[arg(long, env = "RESYNC_SECONDS", default_value_t = 300)]
    resync_seconds: u64,
    /// Log format: `json` or `pretty`.
    #[arg(long, env = "LOG_FORMAT", default_value = "json")]
    log_format: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    operator::telemetry::init(args.log_format != "pretty");
    let client = kube::Client::try_default()
        .await
        .context("kubernetes client")?;
    let health = Health::default();
    let listener = tokio::net::TcpListener::bind(args.health_addr)
        .await
        .with_context(|| format!("bind {}", args.health_addr))?;
    let app = server::router(health.clone());
    let http = tokio::spawn(async move { axum::serve(listener, app).await });
    operator::controller::run(
        client,
        args.namespace.as_deref(),
        health,
        Duration::from_secs(args.resync_seconds),
    )
    .await;
    http.abort();
    Ok(())
}
