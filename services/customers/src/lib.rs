//! The natstack customers service: Northwind customers in the service's own PostgreSQL
//! database, served over NATS (subjects `customers.*`, see [`contract::customers`]).
//!
//! - [`handlers`]: one handler per operation, with authorization and validation;
//! - `validate`: input rules (column lengths, id format) as 422 field errors;
//! - `db`: the SQL, bind parameters only, sorting through a whitelist;
//! - migrations (`migrations/`): schema, then the Northwind seed, once per database, then the
//!   idempotency keys (`runtime::idempotency`), then the outbox (`runtime::outbox`), whose
//!   relay publishes every change's event to JetStream.
//!
//! [`SERVER`] is the whole server, so tests run the real thing in-process; `main.rs` only parses
//! the configuration and wires signals.

mod db;
pub mod handlers;
mod validate;

runtime::pg_service!(contract::deploy::CUSTOMERS, handlers::service, outbox);
