//! The natstack products service: Northwind products, categories and suppliers in the service's own PostgreSQL
//! database, served over NATS (subjects `products.*`, see [`contract::products`]).
//!
//! - [`handlers`]: one handler per operation, with authorization and validation;
//! - `validate`: input rules (lengths, smallint ranges, exact prices) as 422 field errors;
//! - `db`: the SQL, bind parameters only, sorting through a whitelist;
//! - migrations (`migrations/`): schema, the Northwind seed once per database, then exact types,
//!   an identity, the idempotency keys (`runtime::idempotency`) and the outbox
//!   (`runtime::outbox`), whose relay publishes every change's event to JetStream.
//!
//! [`SERVER`] is the whole server, so tests run the real thing in-process; `main.rs` only parses
//! the configuration and wires signals.

mod db;
pub mod handlers;
mod validate;

runtime::pg_service!(contract::deploy::PRODUCTS, handlers::service, outbox);
