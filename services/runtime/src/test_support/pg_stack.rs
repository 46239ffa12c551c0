//! [`PgStack`]: what a database-backed service's tests run it against: nats-server and
//! PostgreSQL with one fresh database.

use super::{NatsServer, PgServer};
use crate::pg::PgArgs;

/// nats-server and PostgreSQL with the service's database.
pub struct PgStack {
    /// The NATS server.
    pub nats: NatsServer,
    /// The PostgreSQL server.
    pub pg: PgServer,
    /// The URL of the service's database.
    pub database_url: String,
}

impl PgStack {
    /// Starts both servers and creates `database`.
    pub async fn start(database: &str) -> Self {
        let (nats, pg) = tokio::join!(NatsServer::start(), PgServer::start());
        let nats = nats.expect("nats-server starts");
        let pg = pg.expect("PostgreSQL starts");
        let database_url = pg.create_database(database).await.unwrap();
        Self {
            nats,
            pg,
            database_url,
        }
    }

    /// The service's database arguments (a small pool).
    pub fn database(&self) -> PgArgs {
        PgArgs {
            database_url: self.database_url.clone().into(),
            database_max_connections: 5,
        }
    }
}
