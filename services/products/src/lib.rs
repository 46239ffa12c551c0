//! The natstack products service: Northwind products, categories and suppliers in the service's own PostgreSQL
//! database, served over NATS (subjects `products.*`, see [`contract::products`]).
//!
//! - [`handlers`]: one handler per operation, with authorization and validation;
//! - `validate`: input rules (lengths, smallint ranges, exact prices) as 422 field errors;
//! - `db`: the SQL, bind parameters only, sorting through a whitelist;
//! - migrations (`migrations/`): schema, the Northwind seed once per database, then exact types and an identity.
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
pub const SERVICE: &str = "products";

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
