//! Command-line options.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use contract::deploy::env::dev;
use runtime::config::{NatsArgs, TelemetryArgs};

/// Measures natstack end to end on this machine: throughput, latency percentiles, errors and
/// memory of every process, through the gateway and directly over NATS.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Internal: what this process is (nothing: the benchmark itself).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The benchmark's options.
    #[command(flatten)]
    pub options: Options,
}

impl Cli {
    /// Worker threads of this process's runtime: the load generator's, or the echo service's.
    pub fn worker_threads(&self) -> usize {
        match self.command {
            Some(Command::Echo(_) | Command::Floor | Command::Proxy(_)) => available_cores(),
            None => self.options.threads.unwrap_or_else(available_cores),
        }
    }
}

/// What else this binary can be.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the database-free echo service (the benchmark starts it as its own process).
    #[command(hide = true, name = "serve-echo")]
    Echo(EchoArgs),
    /// Run the floor: a bare HTTP server answering `GET /echo` with no NATS hop.
    #[command(hide = true, name = "serve-floor")]
    Floor,
    /// Run the bare proxy: HTTP in, one NATS request out, nothing else.
    #[command(hide = true, name = "serve-proxy")]
    Proxy(ProxyArgs),
}

/// The bare proxy's configuration (the benchmark passes it; no environment).
#[derive(Debug, Clone, Args)]
pub struct ProxyArgs {
    /// The NATS server.
    #[arg(long)]
    pub nats_url: String,
    /// The subject `GET /echo` is relayed to.
    #[arg(long)]
    pub subject: String,
    /// The caller's user id, sent as the gateway sends it.
    #[arg(long)]
    pub user_id: String,
    /// The caller's roles, in the header's form.
    #[arg(long)]
    pub roles: String,
}

/// The echo service's configuration: the same variables as every service's.
#[derive(Debug, Clone, Args)]
pub struct EchoArgs {
    /// NATS connection.
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Logging.
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// What to measure and for how long.
#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Seconds measured per run (after the warm-up).
    #[arg(long, env = dev::BENCH_DURATION, default_value_t = 5.0)]
    pub duration: f64,
    /// Seconds of load before each run's measurement starts (connections open, caches warm).
    #[arg(long, env = dev::BENCH_WARMUP, default_value_t = 1.0)]
    pub warmup: f64,
    /// Concurrent clients (HTTP connections, or NATS requesters) per run.
    #[arg(long, env = dev::BENCH_CONCURRENCY, value_delimiter = ',', default_values_t = [1, 16, 64, 256])]
    pub concurrency: Vec<usize>,
    /// Concurrency levels for `POST /auth/login`, whose argon2 hashing takes tens of
    /// milliseconds: more clients than this only queue.
    #[arg(long, env = dev::BENCH_LOGIN_CONCURRENCY, value_delimiter = ',', default_values_t = [1, 4, 16])]
    pub login_concurrency: Vec<usize>,
    /// Run only the scenarios whose name contains one of these (e.g. `products,echo`;
    /// `startup`: each binary's start-up; `defaults`: the gateway with a stack's defaults;
    /// `driver`: the products read through sqlx against tokio-postgres).
    #[arg(long, env = dev::BENCH_ONLY, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Where to write the figures as JSON.
    #[arg(long, env = dev::BENCH_JSON, default_value = "target/bench/latest.json")]
    pub json: PathBuf,
    /// A JSON file of an earlier run to compare against (adds a column of ratios, and its
    /// curves to the picture).
    #[arg(long, env = dev::BENCH_BASELINE)]
    pub baseline: Option<PathBuf>,
    /// Where to draw throughput and p99 against concurrency (SVG).
    #[arg(long, env = dev::BENCH_SVG, default_value = "target/bench/latest.svg")]
    pub svg: PathBuf,
    /// Where the processes' logs go.
    #[arg(long, env = dev::BENCH_LOGS, default_value = "target/bench/logs")]
    pub logs: PathBuf,
    /// `RUST_LOG` of the gateway and services (`info`, as `make run` runs them).
    #[arg(long, env = dev::BENCH_RUST_LOG, default_value = "info")]
    pub rust_log: String,
    /// Starts per binary and kind (cold, warm, routed) in the start-up scenario
    /// (`--only startup`).
    #[arg(long, env = dev::BENCH_STARTUP_SAMPLES, default_value_t = 5)]
    pub startup_samples: usize,
    /// Worker threads of the load generator (default: the number of cores).
    #[arg(long, env = dev::BENCH_THREADS)]
    pub threads: Option<usize>,
    /// `single`: the launcher's one process each; `full`: also `examples/full.yaml` through
    /// the rendered-stack harness (3 NATS servers, 2 gateways, 2 replicas per service), compared.
    #[arg(long, env = dev::BENCH_TOPOLOGY, value_enum, default_value_t)]
    pub topology: crate::topology::Topology,
}

impl Options {
    /// The measured time of one run.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration.max(0.1))
    }

    /// The warm-up of one run.
    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup.max(0.0))
    }

    /// Whether the scenario called `name` is selected.
    pub fn selects(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| name.contains(o.as_str()))
    }
}

/// The cores this process may use.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn defaults_and_lists_parse() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["bench"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.options.concurrency, [1, 16, 64, 256]);
        assert_eq!(cli.options.duration(), Duration::from_secs(5));
        assert!(cli.options.selects("anything"));
        assert_eq!(cli.options.topology, crate::topology::Topology::Single);
        let cli = Cli::try_parse_from(["bench", "--topology", "full"]).unwrap();
        assert_eq!(cli.options.topology, crate::topology::Topology::Full);

        let cli =
            Cli::try_parse_from(["bench", "--concurrency", "8,32", "--only", "echo"]).unwrap();
        assert_eq!(cli.options.concurrency, [8, 32]);
        assert!(cli.options.selects("echo GET /echo"));
        assert!(!cli.options.selects("products GET /products/{id}"));

        let cli = Cli::try_parse_from(["bench", "serve-echo"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Echo(_))));
        let cli = Cli::try_parse_from(["bench", "serve-floor"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Floor)));
        let cli = Cli::try_parse_from([
            "bench",
            "serve-proxy",
            "--nats-url",
            "nats://127.0.0.1:4222",
            "--subject",
            "echo.get",
            "--user-id",
            "u1",
            "--roles",
            "admin,user",
        ])
        .unwrap();
        let Some(Command::Proxy(proxy)) = cli.command else {
            panic!("serve-proxy parses as the bare proxy");
        };
        assert_eq!(proxy.subject, "echo.get");
        assert_eq!(proxy.roles, "admin,user");
    }
}
