//! The gateway binary: parse flags, set up telemetry, bind, run until a signal.

use anyhow::Context as _;
use clap::Parser as _;
use gateway::{Cli, Config};
use tokio::net::TcpListener;

/// jemalloc rather than glibc's malloc: every proxied request allocates and frees dozens of
/// small buffers across two worker threads, and glibc spent a large share of the gateway's CPU
/// on them (`malloc_consolidate` above all). jemalloc needs markedly fewer instructions per
/// request; its settings (`.cargo/config.toml`) keep the resident memory under load within
/// budget, where mimalloc's did not (figures in `docs/bench.md`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _telemetry = runtime::telemetry::init(contract::deploy::GATEWAY, &cli.common.telemetry)?;
    let listener = TcpListener::bind(cli.gateway.listen_addr)
        .await
        .with_context(|| format!("cannot listen on {}", cli.gateway.listen_addr))?;
    let health = TcpListener::bind(cli.common.health.health_addr)
        .await
        .with_context(|| format!("cannot listen on {}", cli.common.health.health_addr))?;
    gateway::run(
        Config::from(&cli),
        listener,
        health,
        runtime::shutdown::signal(),
    )
    .await?;
    Ok(())
}
