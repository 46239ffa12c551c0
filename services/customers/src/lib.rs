//! The natstack customers service: Northwind customers in the service's own PostgreSQL
//! database, served over NATS (subjects `customers.*`, see [`contract::customers`]).
//!
//! - [`handlers`]: one handler per operation, with authorization and validation;
//! - `validate`: input rules (column lengths, id format) as 422 field errors;
//! - `db`: the SQL, bind parameters only, sorting through a whitelist;
//! - migrations (`migrations/`): schema, then the Northwind seed, once per database.
//!
//! [`run`] is the whole server, so tests run the real thing in-process; `main.rs` only parses
//! the configuration and wires signals.

mod db;
pub mod handlers;
mod validate;

use std::future::Future;

use runtime::pg::{RunError, ServiceSpec};
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;

/// The service name: the Services API name and the subjects' first token.
pub const SERVICE: &str = "customers";

/// The embedded migrations: schema, then the Northwind seed.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// What the server needs besides its listener.
pub type Config = runtime::pg::ServiceConfig;

/// Runs the service until `shutdown` resolves: health on `health_listener`, migrations
/// (retried while the database is down), then the NATS endpoints. See
/// [`runtime::pg::run_service`].
pub async fn run(
    config: Config,
    health_listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let spec = ServiceSpec {
        name: SERVICE,
        nats: &config.nats,
        database: &config.database,
        migrator: &MIGRATOR,
    };
    runtime::pg::run_service(spec, health_listener, shutdown, |pool, metrics| {
        handlers::service(pool).metrics(metrics)
    })
    .await
}
