//! One way to start the whole natstack system on this machine, used by `make run` (the
//! `natstack-run` binary), `make bench` and the end-to-end tests.
//!
//! [`System::builder`] starts nats-server, PostgreSQL (databases `customers` and `products`),
//! nx-27017 (the MongoDB-wire server), then auth, customers, products, extra services given as
//! program and variables, then the gateway, each its own process, and waits until the gateway
//! routes every service. Variable names come from the deployment contract
//! ([`contract::deploy::env`]), so the processes are configured exactly as a cluster
//! configures them.
//!
//! - [`builder`]: what to start and where;
//! - [`system`]: the running system, restarting one of its processes (the resilience suite),
//!   and stopping it;
//! - [`ports`]: free ports (tests, bench) or fixed ones (`make run`);
//! - [`binaries`]: finding the project's built binaries;
//! - [`files`]: the data directory and files, readable by their owner only;
//! - [`http`]: a small JSON client of the gateway;
//! - `nats_auth`: per-component NATS users ([`Builder::nats_auth`]);
//! - `child`: process groups, parent-death signal and stopping everything at once;
//! - `servers`: nats-server, PostgreSQL and nx-27017.

pub mod binaries;
pub mod builder;
mod child;
mod error;
pub mod files;
pub mod http;
mod nats_auth;
pub mod ports;
mod servers;
pub mod system;

pub use builder::{Builder, Service};
pub use error::LaunchError;
pub use ports::{Address, Ports};
pub use system::{ProcessInfo, Role, System};
