//! [`PgStack`]: what a database-backed service's tests run it against: nats-server and
//! PostgreSQL with one fresh database.

use std::time::Duration;

use super::{NatsOptions, NatsServer, PgServer, wait_until};
use crate::pg::PgArgs;

/// nats-server and PostgreSQL with the service's database.
pub struct PgStack {
    /// The NATS server.
    pub nats: NatsServer,
    /// The PostgreSQL server.
    pub pg: PgServer,
    /// The URL of the service's database.
    pub database_url: String,
    /// The name of the service's database.
    pub database_name: String,
}

impl PgStack {
    /// Starts both servers and creates `database`.
    pub async fn start(database: &str) -> Self {
        Self::start_with(database, NatsOptions::default()).await
    }

    /// [`PgStack::start`] with NATS JetStream on (no stream yet: see
    /// [`crate::events::stream::ensure`]), for services that publish events.
    pub async fn start_with_jetstream(database: &str) -> Self {
        let options = NatsOptions {
            jetstream: true,
            ..NatsOptions::default()
        };
        Self::start_with(database, options).await
    }

    /// Starts both servers, NATS with `nats`, and creates `database`.
    pub async fn start_with(database: &str, nats: NatsOptions) -> Self {
        let (nats, pg) = tokio::join!(NatsServer::start_with(nats), PgServer::start());
        let nats = nats.expect("nats-server starts");
        let pg = pg.expect("PostgreSQL starts");
        let database_url = pg.create_database(database).await.unwrap();
        Self {
            nats,
            pg,
            database_url,
            database_name: database.to_owned(),
        }
    }

    /// The rows of the service's outbox not yet published.
    pub async fn outbox_pending(&self) -> u64 {
        let count = self
            .pg
            .psql(&self.database_name, "SELECT count(*) FROM outbox")
            .await
            .expect("the outbox can be read");
        count.parse().expect("a count")
    }

    /// Waits until every committed event has left the outbox (published and acknowledged).
    pub async fn wait_outbox_drained(&self) {
        wait_until("the outbox is drained", Duration::from_secs(30), || async {
            self.outbox_pending().await == 0
        })
        .await;
    }

    /// The service's database arguments (a small pool).
    pub fn database(&self) -> PgArgs {
        PgArgs {
            database_url: self.database_url.clone().into(),
            database_max_connections: 5,
        }
    }
}
