//! Shared I/O for the natstack gateway and services.
//!
//! Everything that touches NATS lives here, written once:
//!
//! - [`connect`]: a named connection that reconnects forever and logs its events;
//! - [`serve`]: register a service with the Services API and serve typed operations
//!   concurrently, with error headers and JSON error bodies, and drain on shutdown;
//! - [`call`]: typed request-reply with a deadline and distinct failure kinds;
//! - [`deadline`]: the caller's remaining time, sent with every request and honoured by
//!   [`serve`];
//! - [`discover`]: scatter-gather over `$SRV.INFO` / `$SRV.PING`;
//! - [`events`]: the JetStream stream of the domain events;
//! - [`propagation`]: request id and W3C trace context in NATS headers;
//! - [`host`]: the life of a service process (health, NATS, start-up with [`retry`],
//!   registration, serving, draining), so every service's `run` is a few lines;
//! - [`telemetry`], [`health`], [`metrics`], [`shutdown`]: process plumbing every binary shares;
//! - [`config`]: the clap argument groups behind the shared environment variables;
//! - [`binary`]: the whole `main` of a service binary ([`service_main!`]).
//!
//! With the `jwt` feature, `jwt` verifies the auth service's access tokens against its JWKS.
//! With the `postgres` feature, `pg` opens a PostgreSQL pool, migrates (retrying until the
//! database is up) and maps sqlx errors to [`contract::ServiceError`]s, and `idempotency` runs
//! a write once per `Idempotency-Key`, storing the key in the same transaction, and `outbox`
//! stores a write's domain event in its transaction and relays it to JetStream.
//!
//! With the `test-support` feature, [`test_support`] starts real servers (nats-server,
//! PostgreSQL, a MongoDB-wire server) on free loopback ports for tests.

pub mod binary;
pub mod call;
pub mod config;
pub mod connect;
pub mod deadline;
pub mod discover;
pub mod events;
pub mod exposition;
pub mod header_names;
pub mod health;
pub mod host;
#[cfg(feature = "postgres")]
pub mod idempotency;
#[cfg(feature = "jwt")]
pub mod jwt;
pub mod metrics;
pub mod outbox;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod propagation;
pub mod retry;
pub mod serve;
pub mod shutdown;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod test_support;

pub use call::{CallError, CallOptions, Requester};
pub use serve::{RequestContext, ServiceBuilder};
