//! The `customers` binary: parses the configuration and runs [`customers::run`].

use anyhow::Context;
use clap::Parser;
use runtime::config::CommonArgs;
use runtime::pg::PgArgs;

/// natstack customers service (Northwind customers over NATS, PostgreSQL).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    database: PgArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry = runtime::telemetry::init(customers::SERVICE, &args.common.telemetry)
        .context("cannot set up telemetry")?;
    let listener = tokio::net::TcpListener::bind(args.common.health.health_addr)
        .await
        .with_context(|| format!("cannot bind HEALTH_ADDR {}", args.common.health.health_addr))?;
    customers::run(
        args.common.nats,
        args.database,
        listener,
        runtime::shutdown::signal(),
    )
    .await
    .context("customers service failed")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use runtime::config::ExposeSecret;

    use super::*;

    #[test]
    fn arguments_parse_with_defaults() {
        Args::command().debug_assert();
        let args = Args::try_parse_from(["customers", "--database-url", "postgres://db/customers"])
            .unwrap();
        assert_eq!(args.database.database_max_connections, 10);
        assert_eq!(
            args.database.database_url.expose_secret(),
            "postgres://db/customers"
        );
    }
}
