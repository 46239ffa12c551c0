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
//! - [`scenario`]: what is measured, in which order;
//! - [`load`]: the closed-loop load generators (HTTP/1.1 keep-alive and NATS);
//! - [`memory`]: resident memory of each process, from `/proc`;
//! - [`report`]: the table and the JSON file.
//!
//! It is an application, not a library, so errors are `anyhow` throughout.

mod cli;
mod echo;
mod load;
mod memory;
mod report;
mod scenario;
mod system;

use anyhow::Context;
use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.worker_threads())
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    match cli.command {
        Some(Command::ServeEcho(args)) => runtime.block_on(echo::serve(args)),
        None => runtime.block_on(scenario::run(cli.options)),
    }
}
