//! A MongoDB-wire-compatible server (`nx-27017`) on a free loopback port.
//!
//! No MongoDB server is packaged for these machines; `nx-27017` speaks the wire protocol over
//! SQLite, and the same client code runs against a real MongoDB in the cluster.

use std::process::Command;
use std::time::Duration;

use contract::deploy::env::dev;
use nix::sys::signal::Signal;
use tempfile::TempDir;

use super::process::{ServerProcess, accepts};
use super::{HarnessError, free_port, tools};

const INSTALL_HINT: &str = "run `make setup` (installs the PyPI package `nx-27017` into .venv)";

/// A running MongoDB-wire server, stopped and deleted on drop.
#[derive(Debug)]
pub struct MongoServer {
    process: ServerProcess,
    port: u16,
    _dir: TempDir,
}

impl MongoServer {
    /// Starts a server with an empty data directory.
    pub async fn start() -> Result<Self, HarnessError> {
        let bin = tools::find("nx-27017", dev::NX_27017_BIN, INSTALL_HINT)?;
        let dir = tempfile::Builder::new()
            .prefix("natstack-mongo-")
            .tempdir()?;
        let mut last_error = None;
        for _ in 0..3 {
            let port = free_port();
            let mut command = Command::new(&bin);
            command
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .arg("--data-dir")
                .arg(dir.path().join("data"))
                .arg("--log-file")
                .arg(dir.path().join("server.log"))
                .arg("--pid-file")
                .arg(dir.path().join("server.pid"));
            let log = dir.path().join("stdout.log");
            let mut process = ServerProcess::spawn("nx-27017", command, log, Signal::SIGTERM)?;
            let outcome = process
                .wait_ready(Duration::from_secs(20), "not accepting connections", || {
                    accepts(port)
                })
                .await;
            match outcome {
                Ok(()) => {
                    return Ok(Self {
                        process,
                        port,
                        _dir: dir,
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    /// The connection URL (a single server, no replica set).
    pub fn url(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }
}
