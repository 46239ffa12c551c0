//! Free ports, and waiting for a condition with a deadline instead of sleeping.

use std::future::Future;
use std::time::Duration;

use crate::HarnessError;

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot bind a loopback port")
}

/// How many free ports a test server is tried on: a port found free may be taken (by any
/// process's outgoing connection) before the server binds it.
pub(crate) const PORT_ATTEMPTS: usize = 3;

/// A test server that is started on a port it is given (and can be started again on it).
pub(crate) trait Launch {
    /// Starts the server on `port`.
    async fn launch_on(&mut self, port: u16) -> Result<(), HarnessError>;
}

/// Starts `server` on a free port, and again on another one when that fails,
/// [`PORT_ATTEMPTS`] times at most; the last error when every attempt failed.
pub(crate) async fn on_free_port(server: &mut impl Launch) -> Result<(), HarnessError> {
    let mut attempt = 1;
    loop {
        match server.launch_on(free_port()).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt == PORT_ATTEMPTS => return Err(e),
            Err(_) => attempt += 1,
        }
    }
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
