//! The benchmark's helper servers (the floor and the bare proxy): this executable started
//! again with a subcommand, each its own process as the gateway is, so `/proc` gives each its
//! own CPU time. A helper binds a free loopback port and prints where it listens as its first
//! line of standard output; the parent reads that line.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// What a helper prints before its address.
const LISTENING: &str = "listening on ";
/// How long a helper may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds a free loopback port and tells the parent which (in the helper process).
pub async fn bind_and_announce(what: &str) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .with_context(|| format!("cannot bind the {what}"))?;
    let addr = listener.local_addr()?;
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{LISTENING}{addr}")?;
    out.flush()?;
    Ok(listener)
}

/// A helper server, running as a child process; killed when dropped.
pub struct Served {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Served {
    /// Starts this executable with `args` (the subcommand first) and waits for its address.
    pub async fn start(what: &str, args: &[String]) -> anyhow::Result<Self> {
        let this = std::env::current_exe().context("cannot find this executable")?;
        let mut child = Command::new(this)
            .args(args)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start the {what}"))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        tokio::time::timeout(START_TIMEOUT, BufReader::new(stdout).read_line(&mut line))
            .await
            .with_context(|| format!("the {what} did not say where it listens"))??;
        let addr = line
            .trim()
            .strip_prefix(LISTENING)
            .and_then(|a| a.parse().ok())
            .with_context(|| format!("unexpected first line from the {what}: {line:?}"))?;
        Ok(Self { child, addr })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or_default()
    }
}
