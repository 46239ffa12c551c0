//! Gateway tests over a real nats-server, with test services registered through the real
//! Services API and the real gateway served on a loopback port.

mod admission;
mod auth;
mod connections;
mod discovery;
mod docs;
mod errors;
mod events;
mod floods;
mod ids;
mod limits;
mod ops;
mod retry;
mod revocation;
mod routing;
mod shutdown;
mod support;
mod trace;
