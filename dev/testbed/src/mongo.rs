//! A MongoDB-wire-compatible server (`nx-27017`) on a free loopback port.
//!
//! No MongoDB server is packaged for these machines; `nx-27017` speaks the wire protocol over
//! SQLite, and the same client code runs against a real MongoDB in the cluster.

use contract::deploy::env::dev;
use tempfile::TempDir;

use crate::process::Child;
use crate::wait::{Launch, on_free_port};
use crate::{HarnessError, programs, servers};

const INSTALL_HINT: &str = "run `make setup` (installs the PyPI package `nx-27017` into .venv)";

/// A running MongoDB-wire server, stopped and deleted on drop.
#[derive(Debug)]
pub struct MongoServer {
    process: Child,
    port: u16,
    _dir: TempDir,
}

impl MongoServer {
    /// Starts a server with an empty data directory.
    pub async fn start() -> Result<Self, HarnessError> {
        // Fail early and clearly when the program is missing.
        programs::find("nx-27017", dev::NX_27017_BIN, INSTALL_HINT)?;
        let dir = tempfile::Builder::new()
            .prefix("natstack-mongo-")
            .tempdir()?;
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data)?;
        let mut start = Start {
            data: &data,
            logs: dir.path(),
            started: None,
        };
        on_free_port(&mut start).await?;
        let (process, port) = start.started.expect("set by the successful attempt");
        Ok(Self {
            process,
            port,
            _dir: dir,
        })
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
        Some(self.process.pid())
    }
}

/// One start of nx-27017 on `data`, logging under `logs`: the process and its port once it
/// answers.
struct Start<'a> {
    data: &'a std::path::Path,
    logs: &'a std::path::Path,
    started: Option<(Child, u16)>,
}

impl Launch for Start<'_> {
    async fn launch_on(&mut self, port: u16) -> Result<(), HarnessError> {
        self.started = Some((servers::mongo(port, self.data, self.logs).await?, port));
        Ok(())
    }
}
