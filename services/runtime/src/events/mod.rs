//! Domain events on NATS JetStream (see [`contract::events`] for what they are).
//!
//! - [`stream`]: the `EVENTS` stream, created or brought to the stack's settings.

pub mod stream;

/// Why an events operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// The stream could not be created or updated (JetStream off, no permission, or a setting
    /// the server refuses, such as more replicas than servers).
    #[error("cannot create or update the {stream} stream: {source}")]
    Stream {
        /// The stream's name.
        stream: &'static str,
        /// What the server or client said.
        source: async_nats::jetstream::context::CreateStreamError,
    },
}
