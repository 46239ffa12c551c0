//! What a test's services published on the `EVENTS` stream, read back message by message.

use async_nats::jetstream;
use contract::events::STREAM;

/// One message of the stream.
#[derive(Debug, Clone)]
pub struct Published {
    /// Its stream sequence.
    pub sequence: u64,
    /// The subject it was published on.
    pub subject: String,
    /// Its `Nats-Msg-Id` header.
    pub msg_id: Option<String>,
    /// The CloudEvent, as JSON.
    pub event: serde_json::Value,
}

/// Every message in the stream, in stream order (the stream must exist).
pub async fn published(client: &async_nats::Client) -> Vec<Published> {
    let js = jetstream::new(client.clone());
    let mut stream = js
        .get_stream(STREAM)
        .await
        .unwrap_or_else(|e| panic!("the {STREAM} stream exists: {e}"));
    let state = stream.info().await.expect("stream info").state.clone();
    if state.messages == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for sequence in state.first_sequence..=state.last_sequence {
        let message = stream
            .get_raw_message(sequence)
            .await
            .unwrap_or_else(|e| panic!("message {sequence} of {STREAM}: {e}"));
        out.push(Published {
            sequence,
            subject: message.subject.to_string(),
            msg_id: message
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str().to_owned()),
            event: serde_json::from_slice(&message.payload).expect("a JSON event"),
        });
    }
    out
}
