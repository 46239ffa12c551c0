//! `GET /events`: domain events ([`contract::events`]) streamed to a signed-in client as
//! Server-Sent Events.
//!
//! - A bearer token is required (401 otherwise); the stream ends when it expires.
//! - `types=` (comma-separated patterns such as `products.*` or `customers.>`) filters the
//!   events ([`filter`]); anything else is answered 400.
//! - Each SSE event has `id` = the event's stream sequence, `event` = its CloudEvents type and
//!   `data` = the CloudEvent JSON. `Last-Event-ID` (the header an `EventSource` sends when it
//!   reconnects) or `lastEventId` resumes after that sequence: the consumer starts at the next
//!   one, so nothing is missed or repeated. Without it the stream starts with new events.
//! - Idle streams get a heartbeat comment every [`EventsConfig::heartbeat`].
//! - A slow client is cut off ([`sse`]); streams are capped per user (429) and in total (503),
//!   both with `Retry-After` ([`caps`]).
//! - The `EVENTS` stream is put in place by the gateway ([`provision`]); until it is, or while
//!   JetStream does not answer, `/events` answers 503.

pub mod caps;
pub mod filter;
pub mod metrics;
pub mod provision;
pub mod sse;

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use contract::events::StreamSettings;
use contract::{AuthLevel, ErrorCode};

use crate::error::ApiError;
use crate::state::AppState;

/// The path the gateway serves events on.
pub const PATH: &str = "/events";
/// The header a reconnecting `EventSource` sends.
pub const LAST_EVENT_ID: &str = "last-event-id";
/// `Retry-After` of a refused stream, in seconds.
const RETRY_AFTER_SECS: u64 = 5;

/// How `/events` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsConfig {
    /// The stream's retention and replicas, applied at start-up.
    pub stream: StreamSettings,
    /// Streams open at once per user.
    pub max_streams_per_user: u32,
    /// Streams open at once in all.
    pub max_streams: u32,
    /// Time between heartbeat comments.
    pub heartbeat: Duration,
    /// Events held for a client before it is cut off.
    pub buffer: usize,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            stream: StreamSettings::default(),
            max_streams_per_user: contract::deploy::DEFAULT_EVENTS_MAX_STREAMS_PER_USER,
            max_streams: contract::deploy::DEFAULT_EVENTS_MAX_STREAMS,
            heartbeat: Duration::from_millis(contract::deploy::DEFAULT_EVENTS_HEARTBEAT_MS),
            buffer: usize::try_from(contract::deploy::DEFAULT_EVENTS_BUFFER).unwrap_or(usize::MAX),
        }
    }
}

/// `GET /events`.
pub async fn events(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let caller = match state.auth.authorize(&headers, AuthLevel::User).await {
        Ok(Some(caller)) => caller,
        Ok(None) => {
            return ApiError::new(ErrorCode::Unauthenticated, "missing bearer token")
                .into_response();
        }
        Err(refused) => return refused.into_response(),
    };
    let (mut types, mut last) = (None, None);
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*key {
            "types" => types = Some(value.into_owned()),
            "lastEventId" => last = Some(value.into_owned()),
            _ => {}
        }
    }
    let header = headers
        .get(LAST_EVENT_ID)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let request = filter::subjects(types.as_deref()).and_then(|subjects| {
        Ok(sse::Request {
            subjects,
            after: filter::resume_after(header, last.as_deref())?,
            expires_in: token_lifetime(&headers),
        })
    });
    let request = match request {
        Ok(request) => request,
        Err(e) => return ApiError::new(ErrorCode::BadRequest, e.to_string()).into_response(),
    };
    let events = &state.events;
    if !events.ready.get() {
        events.metrics.refuse(metrics::REFUSED_UNAVAILABLE);
        return unavailable("the event stream is not available yet");
    }
    let slot = match events.caps.admit(&caller.user_id) {
        Ok(slot) => slot,
        Err(caps::Full::User) => {
            events.metrics.refuse(metrics::REFUSED_USER_CAP);
            return ApiError::new(
                ErrorCode::RateLimited,
                "too many event streams open for this user",
            )
            .with_retry_after(RETRY_AFTER_SECS)
            .into_response();
        }
        Err(caps::Full::Total) => {
            events.metrics.refuse(metrics::REFUSED_TOTAL_CAP);
            return unavailable("too many event streams open");
        }
    };
    match sse::open(state.requester.client(), &request).await {
        Ok(messages) => sse::respond(messages, &request, &state.config.events, events, slot),
        Err(e) => {
            tracing::warn!(error = %e, "cannot open an events consumer");
            events.metrics.refuse(metrics::REFUSED_UNAVAILABLE);
            unavailable("the event stream is not available right now")
        }
    }
}

fn unavailable(message: &str) -> Response {
    ApiError::new(ErrorCode::Unavailable, message)
        .with_retry_after(RETRY_AFTER_SECS)
        .into_response()
}

/// The time until the (already verified) bearer token's `exp`.
fn token_lifetime(headers: &HeaderMap) -> Duration {
    #[derive(serde::Deserialize)]
    struct Exp {
        exp: i64,
    }
    let exp = crate::auth::bearer(headers)
        .and_then(Result::ok)
        .and_then(|token| token.split('.').nth(1))
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .ok()
        })
        .and_then(|json| serde_json::from_slice::<Exp>(&json).ok())
        .map_or(0, |claims| claims.exp);
    let left = exp.saturating_sub(runtime::jwt::now_secs());
    Duration::from_secs(u64::try_from(left).unwrap_or(0))
}

/// What the `/events` streams share.
#[derive(Debug)]
pub struct Events {
    /// Whether the stream is in place.
    pub ready: provision::StreamReady,
    /// Streams open per user and in total.
    pub caps: caps::Caps,
    /// Metrics.
    pub metrics: metrics::EventsMetrics,
    /// Turns true when the gateway shuts down: every stream ends, so the graceful shutdown,
    /// which waits for each response to finish, does not wait for clients that never leave.
    pub stop: tokio::sync::watch::Sender<bool>,
}

impl Events {
    /// The shared state for `config`, with metrics registered in `registry`.
    pub fn new(
        config: &EventsConfig,
        registry: &mut prometheus_client::registry::Registry,
    ) -> Self {
        Self {
            ready: provision::StreamReady::default(),
            caps: caps::Caps::new(config.max_streams_per_user, config.max_streams),
            metrics: metrics::EventsMetrics::new(registry),
            stop: tokio::sync::watch::Sender::new(false),
        }
    }
}
