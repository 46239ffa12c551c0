//! Command-line and environment configuration shared by every binary.
//!
//! Each binary flattens these groups into its own clap `Args`, so the shared names of
//! `contract::deploy::env` (`NATS_URL`, `LOG_FORMAT`, `HEALTH_ADDR`, …) mean the same thing
//! everywhere.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use contract::deploy::{self, env};

/// How to reach NATS. The password is a `SecretString`, so `Debug` shows it redacted.
#[derive(Debug, Clone, Args)]
pub struct NatsArgs {
    /// NATS server URL; several may be given comma-separated.
    #[arg(long, env = env::NATS_URL, default_value = deploy::DEFAULT_NATS_URL)]
    pub nats_url: String,
    /// NATS user name (with `--nats-password`).
    #[arg(long, env = env::NATS_USER)]
    pub nats_user: Option<String>,
    /// NATS password.
    #[arg(long, env = env::NATS_PASSWORD, hide_env_values = true)]
    pub nats_password: Option<SecretString>,
    /// Prefix of this connection's reply inboxes; with NATS auth each component gets its own
    /// (e.g. `_INBOX_gateway`), so no other user may subscribe to its replies.
    #[arg(long, env = NATS_INBOX_PREFIX, default_value = DEFAULT_INBOX_PREFIX)]
    pub nats_inbox_prefix: String,
    /// PEM file of the CA that signed the NATS server's certificate; TLS becomes required.
    /// A `tls://` URL requires TLS too, trusting the system's roots.
    #[arg(long, env = NATS_CA_FILE)]
    pub nats_ca_file: Option<PathBuf>,
}

pub use contract::deploy::DEFAULT_INBOX_PREFIX;
use contract::deploy::env::{NATS_CA_FILE, NATS_INBOX_PREFIX};
/// The secret type of configuration values (`Debug` redacts it) and the trait that reads one.
pub use secrecy::{ExposeSecret, SecretString};

impl NatsArgs {
    /// Arguments for a server at `url` without credentials.
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            nats_url: url.into(),
            nats_user: None,
            nats_password: None,
            nats_inbox_prefix: DEFAULT_INBOX_PREFIX.to_owned(),
            nats_ca_file: None,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines, for a terminal.
    #[default]
    Pretty,
}

/// Logging and tracing. The filter itself comes from `RUST_LOG` (default `info`).
#[derive(Debug, Clone, Args)]
pub struct TelemetryArgs {
    /// Log format.
    #[arg(long, env = env::LOG_FORMAT, value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    /// OTLP/HTTP collector base URL (e.g. `http://otel-collector:4318`); tracing export is off
    /// when unset.
    #[arg(long, env = env::OTEL_EXPORTER_OTLP_ENDPOINT)]
    pub otlp_endpoint: Option<String>,
    /// Trace sampler: `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`
    /// (the default), `parentbased_always_off` or `parentbased_traceidratio`.
    #[arg(long, env = env::OTEL_TRACES_SAMPLER)]
    pub traces_sampler: Option<String>,
    /// The ratio of traces a ratio sampler keeps, from 0 to 1 (default 1).
    #[arg(long, env = env::OTEL_TRACES_SAMPLER_ARG)]
    pub traces_sampler_arg: Option<f64>,
    /// Attributes of every exported span, `key=value` pairs separated by commas (in a
    /// cluster: `k8s.namespace.name`, `k8s.pod.name`).
    #[arg(long, env = env::OTEL_RESOURCE_ATTRIBUTES)]
    pub resource_attributes: Option<String>,
}

/// Where the health server listens.
#[derive(Debug, Clone, Args)]
pub struct HealthArgs {
    /// Address of the health server (`/livez`, `/readyz`, `/metrics`).
    #[arg(long, env = env::HEALTH_ADDR, default_value = deploy::DEFAULT_HEALTH_ADDR)]
    pub health_addr: SocketAddr,
}

/// Everything every service binary takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// NATS connection.
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Logging and tracing.
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    /// Health server.
    #[command(flatten)]
    pub health: HealthArgs,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        common: CommonArgs,
    }

    #[test]
    fn defaults_and_flags() {
        let cli = Cli::try_parse_from(["bin"]).unwrap();
        assert_eq!(cli.common.health.health_addr.port(), 9090);
        assert_eq!(cli.common.telemetry.log_format, LogFormat::Pretty);
        let cli = Cli::try_parse_from([
            "bin",
            "--nats-url",
            "nats://n:4222",
            "--nats-password",
            "hunter2",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(cli.common.nats.nats_url, "nats://n:4222");
        assert_eq!(cli.common.telemetry.log_format, LogFormat::Json);
        let debug = format!("{:?}", cli.common.nats);
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(Cli::try_parse_from(["bin", "--log-format", "xml"]).is_err());
    }

    #[test]
    fn inbox_prefix_and_ca_file() {
        let cli = Cli::try_parse_from(["bin"]).unwrap();
        assert_eq!(cli.common.nats.nats_inbox_prefix, "_INBOX");
        assert_eq!(cli.common.nats.nats_ca_file, None);
        let cli = Cli::try_parse_from([
            "bin",
            "--nats-inbox-prefix",
            "_INBOX_gateway",
            "--nats-ca-file",
            "/ca.crt",
        ])
        .unwrap();
        assert_eq!(cli.common.nats.nats_inbox_prefix, "_INBOX_gateway");
        assert_eq!(
            cli.common.nats.nats_ca_file.as_deref(),
            Some(std::path::Path::new("/ca.crt"))
        );
    }
}
