//! The `EVENTS` stream, brought to the stack's settings by the gateway at start-up.
//!
//! Why the gateway: the stream must exist before a client can follow it, and the gateway is
//! the one component that consumes it, runs in every stack, and already receives the stack's
//! settings as environment variables the operator renders (and `make run` sets). Creating it
//! there keeps provisioning declarative (the settings are the stack's, applied with
//! `create_or_update`, so a changed retention is applied at the next rollout) without giving
//! the operator a NATS identity, and the services stay publishers that never touch the
//! JetStream API. The stream's configuration itself is declared once in
//! [`runtime::events::stream`].
//!
//! JetStream may be unavailable when the gateway starts (NATS still electing a meta leader, or
//! restarting): the gateway stays up and serves everything else, `GET /events` answers 503,
//! and the stream is tried again with a capped back-off until it is in place.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use contract::events::StreamSettings;

use tracing::{info, warn};

/// First pause after a failed attempt; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Whether the stream is in place.
#[derive(Debug, Clone, Default)]
pub struct StreamReady(Arc<AtomicBool>);

impl StreamReady {
    /// Whether the stream was created or updated.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Creates or updates the stream to `settings`, retrying until it succeeds or `shutdown`
/// resolves; `ready` turns true once it is in place.
pub async fn run(
    client: async_nats::Client,
    settings: StreamSettings,
    ready: StreamReady,
    shutdown: impl Future<Output = ()>,
) {
    let mut backoff = FIRST_BACKOFF;
    let attempts = async {
        loop {
            match runtime::events::stream::ensure(&client, &settings).await {
                Ok(info) => {
                    info!(
                        stream = %info.config.name,
                        replicas = info.config.num_replicas,
                        max_age_secs = info.config.max_age.as_secs(),
                        max_bytes = info.config.max_bytes,
                        "events stream in place"
                    );
                    ready.0.store(true, Ordering::Release);
                    return;
                }
                Err(e) => {
                    warn!(error = %e, retry_in_ms = backoff.as_millis(), "events stream not in place yet");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    };
    tokio::select! {
        () = attempts => {}
        () = shutdown => {}
    }
}
