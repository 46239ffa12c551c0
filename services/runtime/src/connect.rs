//! Connecting to NATS: a named connection that reconnects forever with capped exponential
//! backoff and logs every connection event.
//!
//! The first connection is retried in the background too, so a service that starts before
//! NATS (as pods often do) comes up on its own; readiness reports "not ready" until connected.

use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event};
use tracing::{error, info, warn};

use crate::config::{ExposeSecret, NatsArgs};

/// Why a connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL or options were rejected.
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect {
        /// The URL tried.
        url: String,
        /// The client's error.
        source: async_nats::ConnectError,
    },
    /// A user was given without a password or the other way round.
    #[error("NATS_USER and NATS_PASSWORD must be set together")]
    PartialCredentials,
}

/// The delay before reconnect attempt `attempt`: 100 ms doubling to a 5 s cap, with up to
/// 25 % jitter so a fleet of clients does not reconnect in lockstep.
pub fn reconnect_delay(attempt: usize) -> Duration {
    let base = 100u64.saturating_mul(1 << attempt.min(6)).min(5_000);
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()) % (base / 4 + 1))
        .unwrap_or(0);
    Duration::from_millis(base + jitter)
}

/// async-nats's delay before connection attempt `attempt`, counted from 1 and asked before
/// every attempt, the first connection's included: none for the first, so a process connects
/// (and a lost connection is tried again) at once, then [`reconnect_delay`] from 100 ms.
/// Waiting before the first attempt would add its delay to every start-up.
fn connect_delay(attempt: usize) -> Duration {
    match attempt.checked_sub(2) {
        None => Duration::ZERO,
        Some(retry) => reconnect_delay(retry),
    }
}

/// Connects as `name` (shown by the server's monitoring). With `wait`, returns once connected
/// or fails; without it, returns at once and keeps trying in the background.
///
/// Replies come back under `args.nats_inbox_prefix` (every inbox the client makes, including
/// [`crate::Requester`]'s), and a CA file makes TLS mandatory.
pub async fn connect(args: &NatsArgs, name: &str, wait: bool) -> Result<Client, ConnectError> {
    let mut options = ConnectOptions::new()
        .name(name)
        .max_reconnects(None)
        .reconnect_delay_callback(connect_delay)
        .connection_timeout(Duration::from_secs(5))
        .custom_inbox_prefix(&args.nats_inbox_prefix)
        .event_callback(|event| async move { log_event(&event) });
    if let Some(ca) = &args.nats_ca_file {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    match (&args.nats_user, &args.nats_password) {
        (Some(user), Some(password)) => {
            options = options.user_and_password(user.clone(), password.expose_secret().to_owned());
        }
        (None, None) => {}
        _ => return Err(ConnectError::PartialCredentials),
    }
    if !wait {
        options = options.retry_on_initial_connect();
    }
    let client = options
        .connect(args.nats_url.as_str())
        .await
        .map_err(|source| ConnectError::Connect {
            url: args.nats_url.clone(),
            source,
        })?;
    info!(url = %args.nats_url, name, "NATS client started");
    Ok(client)
}

fn log_event(event: &Event) {
    match event {
        Event::Connected => info!("connected to NATS"),
        Event::Disconnected => warn!("disconnected from NATS; reconnecting"),
        Event::LameDuckMode => warn!("NATS server entered lame duck mode"),
        Event::SlowConsumer(sid) => error!(sid, "slow consumer: messages were dropped"),
        Event::ServerError(err) => error!(error = %err, "NATS server error"),
        Event::ClientError(err) => error!(error = %err, "NATS client error"),
        other => info!(event = %other, "NATS event"),
    }
}

/// Whether the client currently has a live connection.
pub fn is_connected(client: &Client) -> bool {
    client.connection_state() == async_nats::connection::State::Connected
}

/// Flushes what `client` still buffers, on the way out. Never connected (or cut off): there
/// is nothing to flush, and flushing would wait forever; a slow server gets 5 s.
pub async fn flush(client: &Client) {
    if !is_connected(client) {
        return;
    }
    match tokio::time::timeout(Duration::from_secs(5), client.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!(error = %e, "final NATS flush failed"),
        Err(_) => warn!("final NATS flush timed out"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_cap() {
        assert_eq!(connect_delay(1), Duration::ZERO);
        assert!(connect_delay(2) >= Duration::from_millis(100));
        assert!(reconnect_delay(0) >= Duration::from_millis(100));
        assert!(reconnect_delay(0) <= Duration::from_millis(125));
        assert!(reconnect_delay(3) >= Duration::from_millis(800));
        for attempt in [10, 100, usize::MAX] {
            let d = reconnect_delay(attempt);
            assert!(
                d >= Duration::from_secs(5) && d <= Duration::from_millis(6_250),
                "{d:?}"
            );
        }
    }
}
