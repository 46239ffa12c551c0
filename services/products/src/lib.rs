//! The natstack products service: Northwind products, categories and suppliers in the service's own PostgreSQL
//! database, served over NATS (subjects `products.*`, see [`contract::products`]).
//!
//! - [`handlers`]: one handler per operation, with authorization and validation;
//! - `validate`: input rules (lengths, smallint ranges, exact prices) as 422 field errors;
//! - `db`: the SQL, bind parameters only, sorting through a whitelist;
//! - migrations (`migrations/`): schema, the Northwind seed once per database, then exact types,
//!   an identity and the idempotency keys (`runtime::idempotency`).
//!
//! [`SERVER`] is the whole server, so tests run the real thing in-process; `main.rs` only parses
//! the configuration and wires signals.

mod db;
pub mod handlers;
mod validate;

use runtime::pg::PgService;
use sqlx::PgPool;
use sqlx::migrate::Migrator;

/// The service name: the Services API name and the subjects' first token.
pub const SERVICE: &str = contract::deploy::PRODUCTS;

/// The embedded migrations: schema, then the Northwind seed.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The service, run by [`PgService::run`]: health at once, ready only while the database
/// answers, migrations before the NATS endpoints.
pub static SERVER: PgService<PgPool> = PgService {
    name: SERVICE,
    migrator: &MIGRATOR,
    handlers: handlers::service,
};

#[cfg(test)]
mod tests {
    #[test]
    fn the_idempotency_migration_is_the_shared_schema() {
        assert_eq!(
            include_str!("../migrations/0005_idempotency_keys.sql"),
            runtime::idempotency::SCHEMA
        );
    }
}
