//! The natstack wire contract: everything that crosses a process boundary, and nothing that
//! does I/O.
//!
//! The gateway and every service compile against this crate, so a change to the wire format is
//! a change here, pinned by the golden JSON tests in `tests/golden.rs`.
//!
//! - [`envelope`]: the request envelope (path parameters, query parameters, body).
//! - [`error`]: the error model carried in the Services API error headers and a JSON body.
//! - [`events`]: the domain events (CloudEvents) the services publish on JetStream, and their
//!   stream.
//! - [`headers`]: names of the NATS and HTTP headers the components agree on.
//! - [`idempotency`]: what an `Idempotency-Key` may be and how long it is remembered.
//! - [`deploy`]: the deployment contract: env var names, ports, health paths, service names and
//!   the defaults both sides share (the operator renders them, the binaries read them).
//! - [`limits`]: the syntax of the gateway's `RATE_LIMITS` and `TRUSTED_PROXIES` (parsed by the
//!   gateway, checked by the operator).
//! - [`metadata`]: the endpoint-metadata keys that carry each endpoint's HTTP mapping.
//! - [`nats_users`]: the NATS user of each component and its subject permissions.
//! - [`routes`]: which service owns which HTTP path prefixes (the gateway's `ROUTE_OWNERS`).
//! - [`operation`](mod@operation): a typed name for one operation (subject, HTTP mapping, request and response
//!   types), declared with [`operation!`].
//! - [`auth`]: the auth service's operations and DTOs (accounts, tokens, JWKS).
//! - [`caller`]: the verified identity the gateway forwards with each request.
//! - [`de`]: serde helpers for values that arrive as strings (query parameters).
//! - [`page`]: pagination (`page`/`limit` with a cap, `total`/`pages`), sorting, PATCH nulls.
//! - [`customers`], [`products`]: the operations and DTOs of those services.
//! - [`schema`]: the JSON Schemas of the operations, as services publish them.
//!
//! `schemars` is re-exported so a crate declaring its own operations can derive
//! `JsonSchema` without depending on it: `#[derive(contract::schemars::JsonSchema)]` with
//! `#[schemars(crate = "contract::schemars")]`.

pub mod auth;
pub mod caller;
pub mod contact;
pub mod customers;
pub mod de;
pub mod deploy;
pub mod envelope;
pub mod error;
pub mod events;
pub mod headers;
pub mod idempotency;
pub mod limits;
pub mod metadata;
pub mod nats_users;
pub mod operation;
pub mod page;
pub mod products;
pub mod routes;
pub mod schema;

pub use schemars;

pub use caller::Caller;
pub use envelope::{Empty, Envelope, Params, Query};
pub use error::{ErrorCode, FieldError, FieldErrors, ServiceError};
pub use metadata::{AuthLevel, EndpointMeta, HttpMethod};
pub use operation::{Operation, RequestOf};
