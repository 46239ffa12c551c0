//! The floor: a bare axum server answering `GET /echo` with the same bytes as the echo
//! service through the gateway (the query parameters as a JSON object), with no NATS hop, no
//! token check and no middleware. Driven by the same load generator in the same run, its CPU
//! per request is what HTTP handling alone costs on this machine, the least the gateway could
//! spend.
//!
//! It runs as its own process (`bench serve-floor`), as the gateway does, and prints the
//! address it listens on as its first line of standard output.

use std::net::SocketAddr;
use std::process::Stdio;

use anyhow::Context;
use axum::Json;
use axum::extract::Query;
use axum::routing::get;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

use crate::echo::Params;

/// What the floor server prints before its address.
const LISTENING: &str = "listening on ";

async fn echo(Query(params): Query<Params>) -> Json<Params> {
    Json(params)
}

/// Serves `GET /echo` on a free loopback port until killed.
pub async fn serve() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind the floor server")?;
    let addr = listener.local_addr()?;
    // The parent reads this line to learn the port.
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{LISTENING}{addr}")?;
        out.flush()?;
    }
    let app = axum::Router::new().route("/echo", get(echo));
    axum::serve(listener, app)
        .await
        .context("floor server failed")
}

/// The floor server, running as a child process; killed when dropped.
pub struct Floor {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Floor {
    /// Starts this executable as `bench serve-floor` and waits for its address.
    pub async fn start() -> anyhow::Result<Self> {
        let this = std::env::current_exe().context("cannot find this executable")?;
        let mut child = Command::new(this)
            .arg("serve-floor")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the floor server")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .context("the floor server did not say where it listens")??;
        let addr = line
            .trim()
            .strip_prefix(LISTENING)
            .and_then(|a| a.parse().ok())
            .with_context(|| format!("unexpected first line from the floor server: {line:?}"))?;
        Ok(Self { child, addr })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or_default()
    }
}
