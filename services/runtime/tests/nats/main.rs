//! Runtime tests over a real nats-server: serving, calling, discovery, reconnects and health.

mod call;
mod deadline;
mod discover;
mod events;
mod health;
mod ops;
mod serve;
mod servers;
mod trace;
