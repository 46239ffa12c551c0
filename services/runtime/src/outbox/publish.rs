//! What every outbox relay does the same way, whatever holds its pending events: publish one
//! event with its id as `Nats-Msg-Id` and wait for JetStream's acknowledgement, and report a
//! run of failures without flooding the log.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use async_nats::jetstream::context::PublishErrorKind;
use tracing::{info, warn};

use super::metrics::OutboxMetrics;
use crate::connect::reconnect_delay;

/// How often, at most, a continuing failure is logged again.
pub const WARN_EVERY: Duration = Duration::from_secs(30);

/// Why JetStream did not take an event.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// No stream takes the subject (or JetStream is off).
    #[error(
        "the {stream} stream is missing or JetStream is off; events stay in the outbox \
         until it exists: {0}",
        stream = contract::events::STREAM
    )]
    NoStream(jetstream::context::PublishError),
    /// The publish or its acknowledgement failed otherwise (NATS unreachable, a timeout).
    #[error("cannot publish an event to JetStream: {0}")]
    Failed(jetstream::context::PublishError),
}

impl From<jetstream::context::PublishError> for PublishError {
    fn from(e: jetstream::context::PublishError) -> Self {
        if e.kind() == PublishErrorKind::StreamNotFound {
            Self::NoStream(e)
        } else {
            Self::Failed(e)
        }
    }
}

/// Publishes event `id` (its JSON `payload`) on `subject` and waits for the acknowledgement.
/// A repeat within the stream's de-duplication window is acknowledged and not stored again.
///
/// # Errors
/// [`PublishError`] when JetStream did not acknowledge it.
pub async fn publish(
    jetstream: &jetstream::Context,
    subject: &str,
    id: &str,
    payload: &str,
) -> Result<(), PublishError> {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, id);
    jetstream
        .publish_with_headers(
            subject.to_owned(),
            headers,
            bytes::Bytes::copy_from_slice(payload.as_bytes()),
        )
        .await?
        .await?;
    Ok(())
}

/// A relay's run of failed attempts: counted, logged at the first and then at most every
/// [`WARN_EVERY`], and waited out with capped exponential backoff.
#[derive(Debug, Default)]
pub struct Failures {
    count: usize,
    last_warned: Option<Instant>,
}

impl Failures {
    /// Records a failed attempt, then waits before the next.
    pub async fn failed(
        &mut self,
        error: &(dyn std::fmt::Display + Sync),
        metrics: &OutboxMetrics,
    ) {
        metrics.failures.inc();
        self.count += 1;
        if self.last_warned.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
            warn!(error = %error, failures = self.count, "outbox relay cannot publish; retrying");
            self.last_warned = Some(Instant::now());
        }
        tokio::time::sleep(reconnect_delay(self.count - 1)).await;
    }

    /// Records a successful attempt, ending the run.
    pub fn succeeded(&mut self) {
        if self.count > 0 {
            info!(failures = self.count, "outbox relay publishing again");
            *self = Self::default();
        }
    }
}
