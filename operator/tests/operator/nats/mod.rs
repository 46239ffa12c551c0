//! The NATS objects the operator renders, run for real: nats-server with the rendered config
//! (see `support` for the few substitutions a machine without a cluster needs), and the
//! runtime's own clients connecting as each component.

mod support;

mod cluster;
mod lifecycle;
mod permissions;
mod tls;
