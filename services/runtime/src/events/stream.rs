//! The `EVENTS` stream, declared once: every component that creates or checks it builds the
//! same JetStream configuration from the stack's [`StreamSettings`].

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use contract::events::{DUPLICATE_WINDOW_SECS, STREAM, STREAM_SUBJECTS, StreamSettings};

use super::EventsError;

/// The JetStream configuration of the stream: file storage (it outlives a server restart),
/// limits retention with the oldest events discarded first, and a de-duplication window for
/// the publishers' `Nats-Msg-Id`.
#[must_use]
pub fn config(settings: &StreamSettings) -> stream::Config {
    stream::Config {
        name: STREAM.to_owned(),
        subjects: vec![STREAM_SUBJECTS.to_owned()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::Old,
        max_age: Duration::from_secs(settings.max_age_secs),
        max_bytes: settings.max_bytes,
        num_replicas: settings.replicas,
        duplicate_window: Duration::from_secs(DUPLICATE_WINDOW_SECS),
        ..stream::Config::default()
    }
}

/// Creates the stream, or updates it to `settings` when it exists.
///
/// # Errors
/// [`EventsError::Stream`] when the server refuses (JetStream disabled, missing permission,
/// more replicas than servers).
pub async fn ensure(
    client: &async_nats::Client,
    settings: &StreamSettings,
) -> Result<stream::Info, EventsError> {
    jetstream::new(client.clone())
        .create_or_update_stream(config(settings))
        .await
        .map_err(|source| EventsError::Stream {
            stream: STREAM,
            source,
        })
}
