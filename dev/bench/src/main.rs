//! `bench`: measures the whole natstack path on this machine and prints what it found.
//!
//! `make bench` builds the release binaries and runs this. It starts the system as `make run`
//! does (nats-server, PostgreSQL, the MongoDB-wire server, auth, customers, products and the
//! gateway, each its own process) plus a database-free `echo` service, then drives each
//! operation with keep-alive HTTP clients through the gateway and with NATS requests straight
//! to the service, at several concurrency levels:
//!
//! - [`system`]: starting and stopping the processes, and the admin token;
//! - [`echo`]: the echo service (this binary again, as `bench serve-echo`);
//! - [`floor`]: a bare HTTP server answering the echo route's bytes with no NATS hop (this
//!   binary again, as `bench serve-floor`): the floor of the gateway's CPU per request;
//! - [`proxy`]: the bare proxy, HTTP in and one NATS request out with nothing else (this
//!   binary again, as `bench serve-proxy`): the least any gateway on these crates spends;
//! - [`served`]: starting those helper servers as child processes;
//! - [`scenario`]: what is measured, in which order;
//! - [`load`]: the closed-loop load generators (HTTP/1.1 keep-alive and NATS);
//! - [`events`]: the outbox's cost on writes and an event's latency to `GET /events`, printed
//!   by [`events_report`];
//! - [`defaults`]: the gateway with a stack's defaults ([`stock`]) against the stripped one;
//! - [`driver`]: the products read through sqlx as the services use it against tokio-postgres;
//! - [`startup`]: each binary's time from exec to ready, and a new instance's to its first
//!   request through the gateway; both reported and judged by [`startup_report`];
//! - [`memory`]: resident memory of each process, from `/proc`;
//! - [`cpu`]: CPU time of each process per request served, from `/proc`;
//! - [`report`]: the tables and the JSON file;
//! - [`targets`]: what a run must reach, met or missed;
//! - [`plot`]: throughput and p99 against concurrency, as an SVG;
//! - [`topology`]: `--topology full`, the load through the full example's topology, compared.
//!
//! It is an application, not a library, so errors are `anyhow` throughout.

mod bound;
mod cli;
mod cpu;
mod defaults;
mod driver;
mod echo;
mod events;
mod events_report;
mod floor;
mod load;
mod memory;
mod plot;
mod proxy;
mod report;
mod scenario;
mod served;
mod startup;
mod startup_report;
mod stock;
mod system;
mod table;
mod targets;
mod topology;

use anyhow::Context;
use clap::Parser;

use crate::cli::{Cli, Command};

/// The gateway's allocator, so the bare proxy and the floor (this binary too) allocate as the
/// gateway does, and the comparison with them is of the work done, not of the allocators.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.worker_threads())
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    match cli.command {
        Some(Command::Echo(args)) => runtime.block_on(echo::serve(args)),
        Some(Command::Floor) => runtime.block_on(floor::serve()),
        Some(Command::Proxy(args)) => runtime.block_on(proxy::serve(args)),
        None => runtime.block_on(scenario::run(cli.options)),
    }
}
