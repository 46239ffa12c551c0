//! Serving a service over NATS with the Services API.
//!
//! [`ServiceBuilder`] registers a service (name, version, description) and one endpoint per
//! [`contract::Operation`] in queue group `q`, with the operation's HTTP mapping as endpoint
//! metadata, plus the schema endpoint `<service>.schema` (metadata `natstack.kind=schema`),
//! which answers the JSON Schemas of every operation as one document; each operation's metadata
//! carries that document's `schema.hash` ([`contract::schema`]).
//! [`RunningService::run`] then:
//!
//! - enforces the operation's declared auth level on the forwarded caller (401/403);
//! - decodes each request's envelope into the operation's typed request (a bad envelope is a
//!   400 naming the offending field);
//! - runs every request in its own task, at most `max_in_flight` at once: the Services API
//!   stream yields requests one by one, and handling them inline would serialise an endpoint;
//! - replies with the JSON response, or with the `Nats-Service-Error(-Code)` headers *and* a
//!   JSON error body (async-nats's own error reply has an empty body);
//! - runs the handler in a span carrying the request id and the caller's trace context;
//! - honours the caller's deadline ([`crate::deadline`]): a request taken with no time left is
//!   dropped unstarted, a handler still running at the deadline is cancelled, neither replies;
//! - on shutdown, drains: stops taking requests (unsubscribes), handles what was already
//!   delivered, waits for in-flight handlers up to a deadline, then flushes the replies.

//!
//! The parts: [`builder`] (identity, endpoints, registration), [`request`] (one request from
//! its headers to its reply), [`running`] (the serving loop and the drain).

use std::time::Duration;

pub mod builder;
pub mod request;
pub mod running;

pub use builder::ServiceBuilder;
pub use request::{Handler, RequestContext, authorize, error_reply};
pub use running::RunningService;

/// The queue group every endpoint joins, so instances share the load.
pub const QUEUE_GROUP: &str = "q";

/// Default bound on concurrently handled requests per service instance.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;

/// Default time to finish in-flight requests on shutdown.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a service could not be started or run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The Services API refused the service or an endpoint (bad name or version).
    #[error("cannot register service `{service}`: {reason}")]
    Register {
        /// The service name.
        service: String,
        /// The reason given.
        reason: String,
    },
    /// An operation belongs to another service.
    #[error("operation `{subject}` does not belong to service `{service}`")]
    ForeignOperation {
        /// The service name.
        service: String,
        /// The operation's subject.
        subject: String,
    },
    /// Two operations share a name.
    #[error("service `{service}` declares endpoint `{name}` twice")]
    DuplicateEndpoint {
        /// The service name.
        service: String,
        /// The repeated name.
        name: String,
    },
    /// Flushing the connection failed.
    #[error("NATS connection error")]
    Connection(#[source] async_nats::client::FlushError),
}
