//! The natstack customers service: Northwind customers in the service's own PostgreSQL
//! database, served over NATS (subjects `customers.*`, see [`contract::customers`]).
//!
//! - [`handlers`]: one handler per operation, with authorization and validation;
//! - `validate`: input rules (column lengths, id format) as 422 field errors;
//! - `db`: the SQL, bind parameters only, sorting through a whitelist;
//! - migrations (`migrations/`): schema, then the Northwind seed, once per database, then the
//!   idempotency keys (`runtime::idempotency`).
//!
//! [`run`] is the whole server, so tests run the real thing in-process; `main.rs` only parses
//! the configuration and wires signals.

mod db;
pub mod handlers;
mod validate;

use std::future::Future;

use runtime::config::NatsArgs;
use runtime::host::{Host, HostError};
use runtime::pg::PgArgs;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;

/// The service name: the Services API name and the subjects' first token.
pub const SERVICE: &str = "customers";

/// The embedded migrations: schema, then the Northwind seed.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Runs the service until `shutdown` resolves on a [`Host`]: health on `health_listener` at
/// once, ready only while the database answers; migrations (retried while the database is
/// down) before the NATS endpoints.
pub async fn run(
    nats: NatsArgs,
    database: PgArgs,
    health_listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HostError> {
    Host::new(SERVICE, &nats)
        .run_with_database(
            &database,
            &MIGRATOR,
            health_listener,
            shutdown,
            handlers::service,
        )
        .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_idempotency_migration_is_the_shared_schema() {
        assert_eq!(
            include_str!("../migrations/0003_idempotency_keys.sql"),
            runtime::idempotency::SCHEMA
        );
    }
}
