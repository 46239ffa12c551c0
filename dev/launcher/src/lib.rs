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
//! - `nats_auth`: per-component NATS users ([`Builder::nats_auth`]);
//!
//! The processes themselves (the third-party servers, the supervisor that runs every process,
//! the HTTP client) are the test bed's ([`testbed`]), shared with the tests.

pub mod binaries;
pub mod builder;
mod error;
pub mod files;
mod nats_auth;
pub mod ports;
pub mod system;

pub use builder::{Builder, Service};
pub use error::LaunchError;
pub use ports::{Address, Ports};
pub use system::{ProcessInfo, Role, System};
