//! A MongoDB-wire-compatible server (`nx-27017`) on a free loopback port.
//!
//! No MongoDB server is packaged for these machines; `nx-27017` speaks the wire protocol over
//! SQLite, and the same client code runs against a real MongoDB in the cluster.

use contract::deploy::env::dev;
use tempfile::TempDir;

use crate::process::Child;
use crate::wait::on_free_port;
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
        let mut started = None;
        on_free_port(&mut started, async |started, port| {
            *started = Some((servers::mongo(port, &data, dir.path()).await?, port));
            Ok::<_, HarnessError>(())
        })
        .await?;
        let (process, port) = started.expect("set by the successful attempt");
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
