//! Products service tests over a real nats-server and PostgreSQL. Every operation is called
//! through NATS with `runtime::Caller`, as the gateway would.

mod crud;
mod list;
mod registration;
mod resilience;
mod support;
mod validation;
