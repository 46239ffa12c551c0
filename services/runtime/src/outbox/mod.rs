//! The transactional outbox: a service's domain events are written in the same PostgreSQL
//! transaction as the change they describe, and published to JetStream afterwards.
//!
//! - `record` (in `write`): inside a write's transaction, stores its
//!   [`CloudEvent`](contract::events::CloudEvent) in the `outbox` table ([`SCHEMA`], one
//!   migration per service database), so an event exists exactly when its change is
//!   committed: a rolled-back write leaves none, a committed one cannot lose it; `recorded`
//!   and `commit` are its forms for a handler (the reply a client may see), and `created` and
//!   `changed` the whole write of a create, and of an update or a delete;
//! - `relay`: the task that publishes pending rows in order and removes them once JetStream
//!   has acknowledged them (at least once to the stream, and exactly once in it thanks to the
//!   `Nats-Msg-Id` de-duplication);
//! - [`publish`]: what every relay does alike (also auth's, whose outbox is in MongoDB):
//!   publish with `Nats-Msg-Id`, await the acknowledgement, report failures;
//! - [`metrics`]: the relay's gauges and counters on `/metrics`;
//! - `switch`: the benchmark's baseline, a service with its outbox off.
//!
//! Everything but [`publish`] and [`metrics`] needs the `postgres` feature.
//!
//! A row holds the subject and the serialized event, so the relay knows nothing of the
//! services' entities.

pub mod metrics;
pub mod publish;
#[cfg(feature = "postgres")]
pub mod relay;
#[cfg(feature = "postgres")]
pub mod switch;
#[cfg(feature = "postgres")]
mod write;

#[cfg(feature = "postgres")]
pub use write::{changed, commit, created, record, recorded};

/// The table's definition: each service with an outbox has this file, unchanged, among its
/// migrations (a symbolic link).
#[cfg(feature = "postgres")]
pub const SCHEMA: &str = include_str!("../outbox.sql");

/// The `NOTIFY` channel on which a commit that wrote events wakes the relays ([`SCHEMA`]'s
/// trigger names it too).
pub const CHANNEL: &str = "outbox";
