//! The `pg` form of a service's entry point: a service that owns a PostgreSQL database is its
//! name, its migrations and its handlers ([`PgService`]); running it is the same for each.

use std::future::Future;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;

use super::PgArgs;
use crate::ServiceBuilder;
use crate::config::NatsArgs;
use crate::host::{Host, HostError};

/// A service that owns a PostgreSQL database, as its crate declares it.
#[derive(Debug)]
pub struct PgService<S> {
    /// The service name: the Services API name and the subjects' first token.
    pub name: &'static str,
    /// The embedded migrations.
    pub migrator: &'static Migrator,
    /// The service with every endpoint, over the pool.
    pub handlers: fn(PgPool) -> ServiceBuilder<S>,
    /// Whether its migrations create the `outbox` table ([`crate::outbox`]), whose relay then
    /// runs beside the service.
    pub outbox: bool,
}

impl<S: Clone + Send + Sync + 'static> PgService<S> {
    /// Runs the service until `shutdown` resolves on a [`Host`]: health on `health_listener`
    /// at once, ready only while the database answers; migrations (retried while the database
    /// is down) before the NATS endpoints.
    pub async fn run(
        &self,
        nats: NatsArgs,
        database: PgArgs,
        health_listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), HostError> {
        Host::new(self.name, &nats)
            .run_with_database(
                &database,
                self.outbox,
                self.migrator,
                health_listener,
                shutdown,
                self.handlers,
            )
            .await
    }
}

/// Declares, in a service crate that owns a PostgreSQL database, its `SERVICE` name, its
/// `MIGRATOR` (the crate's `migrations/` folder, embedded) and its [`PgService`] `SERVER`
/// with `handlers`: the three items every such crate exports, written once. With `outbox`,
/// its migrations include the outbox table and the relay runs beside it.
#[macro_export]
macro_rules! pg_service {
    ($name:expr, $handlers:path) => {
        $crate::pg_service!(@ $name, $handlers, false);
    };
    ($name:expr, $handlers:path, outbox) => {
        $crate::pg_service!(@ $name, $handlers, true);
    };
    (@ $name:expr, $handlers:path, $outbox:expr) => {
        /// The service name: the Services API name and the subjects' first token.
        pub const SERVICE: &str = $name;

        /// The embedded migrations (`migrations/`), applied in order once per database.
        pub static MIGRATOR: ::sqlx::migrate::Migrator = ::sqlx::migrate!("./migrations");

        /// The service, run by [`PgService::run`](runtime::pg::PgService::run): health at
        /// once, ready only while the database answers, migrations before the NATS endpoints.
        pub static SERVER: $crate::pg::PgService<::sqlx::PgPool> = $crate::pg::PgService {
            name: SERVICE,
            migrator: &MIGRATOR,
            handlers: $handlers,
            outbox: $outbox,
        };
    };
}
