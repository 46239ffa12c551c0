//! The `operator` binary: runs the controller (the default), or renders a stack file offline.

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use contract::deploy;
use operator::render::{self, Values};
use operator::server::{self, Health};
use runtime::config::TelemetryArgs;

/// Reconciles MicroserviceStack resources.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print every object the operator would apply for a stack file, as YAML, without a
    /// cluster (like `helm template`).
    Render(RenderArgs),
}

#[derive(Debug, clap::Args)]
struct RenderArgs {
    /// The stack file (`-` for standard input): one MicroserviceStack and the Secrets it
    /// references.
    #[arg(short = 'f', long = "filename")]
    file: PathBuf,
    /// Namespace of the stack; the file's, or `default`, when unset.
    #[arg(short, long)]
    namespace: Option<String>,
    /// Fill generated Secrets with real random values instead of marked placeholders.
    #[arg(long)]
    generate_secrets: bool,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Watch only this namespace; cluster-wide when unset.
    #[arg(long, env = deploy::env::operator::WATCH_NAMESPACE)]
    namespace: Option<String>,
    /// Address of `/livez`, `/readyz` and `/metrics`.
    #[arg(long, env = deploy::env::HEALTH_ADDR, default_value = deploy::DEFAULT_HEALTH_ADDR)]
    health_addr: SocketAddr,
    /// Seconds between drift-correcting reconciles of a healthy stack.
    #[arg(long, env = deploy::env::operator::RESYNC_SECONDS, default_value_t = 300)]
    resync_seconds: u64,
    /// Seconds in-flight reconciles get to finish after SIGTERM (keep it below the pod's
    /// `terminationGracePeriodSeconds`).
    #[arg(long, env = deploy::env::operator::SHUTDOWN_GRACE_SECONDS, default_value_t = 10)]
    shutdown_grace_seconds: u64,
    /// Logs and trace export, as every component takes them: each reconcile is a trace.
    #[command(flatten)]
    telemetry: TelemetryArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.command {
        Some(Command::Render(render)) => print_render(&render),
        None => run(args.run).await,
    }
}

fn print_render(args: &RenderArgs) -> anyhow::Result<()> {
    let text = if args.file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        text
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("cannot read {}", args.file.display()))?
    };
    let input = render::parse(&text, args.namespace.as_deref())?;
    let values = if args.generate_secrets {
        Values::Random
    } else {
        Values::Placeholders
    };
    let yaml = render::to_yaml(&render::render(&input, values)?)?;
    // The rendered objects are this command's output.
    #[allow(clippy::print_stdout)]
    {
        print!("{yaml}");
    }
    Ok(())
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    // The same logs and trace export as every component: one format for a log collector.
    let _telemetry = runtime::telemetry::init("natstack-operator", &args.telemetry)?;
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
        runtime::shutdown::signal(),
        Duration::from_secs(args.shutdown_grace_seconds),
    )
    .await;
    http.abort();
    Ok(())
}
