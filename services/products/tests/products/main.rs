//! Products service tests over a real nats-server and PostgreSQL. Every operation is called
//! through NATS with `runtime::Requester`, as the gateway would
//! (`runtime::test_support::ServiceApp`). Restarts, outages and draining are the host's, and
//! tested once in `runtime`.

mod crud;
mod events;
mod idempotency;
mod list;
mod metrics;
mod registration;
mod support;
mod validation;
