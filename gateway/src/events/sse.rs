//! One open `GET /events` stream: an ordered JetStream consumer on `EVENTS`, pumped into a
//! bounded buffer that the response body drains as the client reads.
//!
//! The buffer is what bounds a slow client: when the client has not taken [`EventsConfig::buffer`]
//! events, the pump stops, the consumer is deleted, the stream's cap slot is freed and the
//! response ends as soon as it is polled again, without the events still buffered (the client
//! resumes from the last `id` it received, so nothing is lost). The stream also ends when the
//! caller's token expires (a client reconnects with a fresh token), the consumer fails or the
//! gateway shuts down.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use contract::events::{STREAM, SUBJECT_PREFIX};
use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use super::caps::Slot;
use super::metrics::EventsMetrics;
use super::{Events, EventsConfig};

/// The heartbeat comment's text.
pub const HEARTBEAT: &str = "heartbeat";

/// What one stream reads.
#[derive(Debug)]
pub struct Request {
    /// JetStream filter subjects; empty for every event.
    pub subjects: Vec<String>,
    /// The stream sequence to resume after; `None` starts with new events.
    pub after: Option<u64>,
    /// When the caller's token expires.
    pub expires_in: Duration,
}

/// Why a consumer could not be opened (JetStream unavailable, no stream).
pub type OpenError = async_nats::Error;

/// The consumer a stream reads, created now so that a failure is answered 503, not as an
/// empty stream.
pub async fn open(client: &async_nats::Client, request: &Request) -> Result<Ordered, OpenError> {
    let js = async_nats::jetstream::new(client.clone());
    let deliver_policy = match request.after {
        None => DeliverPolicy::New,
        Some(after) => DeliverPolicy::ByStartSequence {
            start_sequence: after.saturating_add(1),
        },
    };
    let (filter_subject, filter_subjects) = match request.subjects.as_slice() {
        [one] => (one.clone(), Vec::new()),
        many => (String::new(), many.to_vec()),
    };
    let config = OrderedConfig {
        // Named, so the gateway's permission to create consumers names this stream alone
        // (`$JS.API.CONSUMER.CREATE.EVENTS.<name>`).
        name: Some(format!("sse_{}", uuid::Uuid::new_v4().simple())),
        filter_subject,
        filter_subjects,
        deliver_policy,
        ..OrderedConfig::default()
    };
    let consumer = js.create_consumer_on_stream(config, STREAM).await?;
    Ok(consumer.messages().await?)
}

/// The SSE response of an opened stream: the pump runs in its own task, holding `slot`.
pub fn respond(
    messages: Ordered,
    request: &Request,
    config: &EventsConfig,
    events: &Events,
    slot: Slot,
) -> Response {
    let (tx, rx) = mpsc::channel(config.buffer.max(1));
    let cut = Arc::new(AtomicBool::new(false));
    tokio::spawn(pump(
        messages,
        tx,
        cut.clone(),
        request.expires_in,
        events.stop.subscribe(),
        events.metrics.clone(),
        slot,
    ));
    let body = futures::stream::unfold((rx, cut), |(mut rx, cut)| async move {
        if cut.load(Ordering::Acquire) {
            return None;
        }
        let event = rx.recv().await?;
        Some((Ok::<_, Infallible>(event), (rx, cut)))
    });
    Sse::new(body)
        .keep_alive(KeepAlive::new().interval(config.heartbeat).text(HEARTBEAT))
        .into_response()
}

/// Moves events from the consumer to the buffer until the client goes, reads too slowly,
/// the token expires or the consumer fails.
async fn pump(
    mut messages: Ordered,
    tx: mpsc::Sender<Event>,
    cut: Arc<AtomicBool>,
    expires_in: Duration,
    mut stop: watch::Receiver<bool>,
    metrics: EventsMetrics,
    slot: Slot,
) {
    metrics.open.inc();
    let expiry = tokio::time::sleep(expires_in);
    tokio::pin!(expiry);
    loop {
        let message = tokio::select! {
            () = &mut expiry => {
                debug!("token expired; events stream ends");
                break;
            }
            () = tx.closed() => break,
            _ = stop.wait_for(|stop| *stop) => break,
            message = messages.next() => message,
        };
        let message = match message {
            Some(Ok(message)) => message,
            Some(Err(e)) => {
                warn!(error = %e, "events consumer failed; the stream ends (the client resumes)");
                break;
            }
            None => break,
        };
        let Some(event) = to_event(&message) else {
            continue;
        };
        match tx.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                cut.store(true, Ordering::Release);
                metrics.cut_off.inc();
                debug!("client reads too slowly; events stream cut");
                break;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => break,
        }
    }
    // The ordered consumer is ephemeral: once nothing pulls, the server removes it after its
    // inactivity threshold.
    drop(messages);
    drop(slot);
    metrics.open.dec();
}

/// The SSE event of a stored message: `id` its stream sequence, `event` its CloudEvents type
/// (the subject after `events.`: a publisher may only use its own subjects), `data` the JSON.
fn to_event(message: &async_nats::jetstream::Message) -> Option<Event> {
    let sequence = match message.info() {
        Ok(info) => info.stream_sequence,
        Err(e) => {
            warn!(error = %e, "event without stream metadata skipped");
            return None;
        }
    };
    let event_type = message
        .subject
        .as_str()
        .strip_prefix(SUBJECT_PREFIX)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(message.subject.as_str());
    Some(
        Event::default()
            .id(sequence.to_string())
            .event(event_type)
            .data(String::from_utf8_lossy(&message.payload)),
    )
}
