//! One retry loop for start-up steps that wait on a dependency (database migrations, index
//! set-up): capped exponential backoff while the error is transient, at once otherwise.
//!
//! The loop never gives up by itself: a service that starts before its database is simply not
//! ready until the database answers. It stops when its future is dropped, which is how
//! [`crate::host::Host`] ends it on shutdown.

use std::fmt::Display;
use std::future::Future;

use tracing::warn;

use crate::connect::reconnect_delay;

/// Runs `step` until it succeeds or fails with an error `transient` rejects; between attempts
/// it logs `waiting` with the error and sleeps [`reconnect_delay`] (100 ms doubling to 5 s).
pub async fn with_backoff<T, E, F, Fut>(
    waiting: &str,
    mut step: F,
    transient: impl Fn(&E) -> bool,
) -> Result<T, E>
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        match step().await {
            Err(e) if transient(&e) => {
                let delay = reconnect_delay(attempt);
                warn!(error = %e, attempt, retry_in_ms = delay.as_millis() as u64, "{waiting}");
                tokio::time::sleep(delay).await;
                attempt = attempt.saturating_add(1);
            }
            done => return done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn retries_transient_errors_and_returns_the_rest() {
        let mut calls = 0;
        let result: Result<u32, String> = with_backoff(
            "not yet",
            || {
                calls += 1;
                let n = calls;
                async move { if n < 3 { Err("down".to_owned()) } else { Ok(n) } }
            },
            |e| e == "down",
        )
        .await;
        assert_eq!(result, Ok(3));
        let result: Result<(), String> = with_backoff(
            "not yet",
            || async { Err("broken".to_owned()) },
            |e| e == "down",
        )
        .await;
        assert_eq!(result, Err("broken".to_owned()));
    }
}
