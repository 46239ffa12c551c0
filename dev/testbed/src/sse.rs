//! A Server-Sent Events client of the gateway's `GET /events`: opens a stream (resuming after a
//! `Last-Event-ID` when given) and reads it event by event, counting heartbeat comments, so the
//! chaos suite and the benchmark follow the events the way a browser's `EventSource` does.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::http::{Api, HttpError};

/// How long opening a stream may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);

/// One event as the client parsed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// Its `id:` field (the gateway sends the event's stream sequence).
    pub id: String,
    /// Its `event:` field (the CloudEvents type).
    pub event: String,
    /// Its `data:` lines joined with newlines (the CloudEvent JSON).
    pub data: String,
}

/// What [`EventStream::next`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// An event.
    Event(SseEvent),
    /// The server ended the stream, or the connection broke.
    Ended,
    /// Nothing at all, not even a heartbeat, within the time given.
    Silent,
}

/// An open `GET /events` response, read frame by frame.
#[derive(Debug)]
pub struct EventStream {
    /// The response's status (anything but 200 carries no events).
    pub status: u16,
    /// The response's headers.
    pub headers: http::HeaderMap,
    body: Incoming,
    buffer: String,
    /// Heartbeat comments seen so far.
    pub comments: u64,
    ended: bool,
}

impl Api {
    /// Opens `path` (`/events?…`) as `token`'s user, resuming after `last_event_id` when given.
    ///
    /// # Errors
    /// When no response head arrives.
    pub async fn open_events(
        &self,
        path: &str,
        token: &str,
        last_event_id: Option<&str>,
    ) -> Result<EventStream, HttpError> {
        let authorization = format!("Bearer {token}");
        let mut headers = vec![("authorization", authorization.as_str())];
        headers.extend(last_event_id.map(|id| ("last-event-id", id)));
        self.open_events_with(path, &headers).await
    }

    /// Opens `path` (`/events?…`) with exactly `headers` besides `accept` (a test of what the
    /// server makes of them).
    ///
    /// # Errors
    /// When no response head arrives.
    pub async fn open_events_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<EventStream, HttpError> {
        let mut request = Request::builder()
            .uri(format!("{}{path}", self.base()))
            .header("accept", "text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(Bytes::new()))?;
        let response = tokio::time::timeout(OPEN_TIMEOUT, self.client().request(request))
            .await
            .map_err(|_| HttpError::Timeout(OPEN_TIMEOUT))?
            .map_err(|e| HttpError::Transport(e.to_string()))?;
        let (parts, body) = response.into_parts();
        Ok(EventStream {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            buffer: String::new(),
            comments: 0,
            ended: false,
        })
    }
}

impl EventStream {
    /// The next event, skipping comments; [`Next::Silent`] when no frame at all arrived
    /// within `within` (a stream whose heartbeats stopped is as good as ended).
    pub async fn next(&mut self, within: Duration) -> Next {
        self.read(|| Instant::now() + within).await
    }

    /// The next event, skipping comments; [`Next::Silent`] when none arrived by `deadline`,
    /// however many heartbeats did (a test waiting for one event, or for none).
    pub async fn next_by(&mut self, deadline: Instant) -> Next {
        self.read(|| deadline).await
    }

    /// Reads frames until an event is complete, the stream ends, or a frame's wait passes the
    /// deadline `deadline()` gives when it starts.
    async fn read(&mut self, deadline: impl Fn() -> Instant) -> Next {
        loop {
            if let Some(event) = self.take_event() {
                return Next::Event(event);
            }
            if self.ended {
                return Next::Ended;
            }
            match tokio::time::timeout_at(deadline(), self.body.frame()).await {
                Err(_) => return Next::Silent,
                Ok(None | Some(Err(_))) => self.ended = true,
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.push_str(&String::from_utf8_lossy(&data));
                    }
                }
            }
        }
    }

    /// The first complete event in the buffer, counting the comments before it.
    fn take_event(&mut self) -> Option<SseEvent> {
        while let Some(end) = self.buffer.find("\n\n") {
            let block: String = self.buffer.drain(..end + 2).collect();
            let (mut id, mut event, mut data) = (String::new(), String::new(), Vec::new());
            for line in block.lines() {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "" => self.comments += 1,
                    "id" => value.clone_into(&mut id),
                    "event" => value.clone_into(&mut event),
                    "data" => data.push(value.to_owned()),
                    _ => {}
                }
            }
            if !data.is_empty() {
                return Some(SseEvent {
                    id,
                    event,
                    data: data.join("\n"),
                });
            }
        }
        None
    }
}
