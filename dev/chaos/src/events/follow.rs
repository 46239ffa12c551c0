//! The SSE client of the events scenario: follows `GET /events` from a known stream sequence,
//! and whenever its stream ends (the gateway lost NATS, a heartbeat went missing, the open was
//! refused) opens it again with `Last-Event-ID` = the last sequence it saw, as a browser's
//! `EventSource` does.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use testbed::http::Api;
use testbed::sse::Next;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The types followed: the two services with an outbox under write load.
const TYPES: &str = "/events?types=products.*,customers.*";
/// No frame at all for this long: the stream is stalled (heartbeats come every second in the
/// suite's gateway).
const SILENCE: Duration = Duration::from_secs(5);
/// The pause before opening again after a refusal or a broken connection.
const BACKOFF: Duration = Duration::from_millis(200);

/// One event as the client received it.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// Its stream sequence (the SSE id).
    pub seq: u64,
    /// The CloudEvent's id.
    pub id: String,
    /// The CloudEvent's type.
    pub ty: String,
    /// The CloudEvent's subject (the entity id).
    pub subject: String,
}

/// The client, running until [`Follower::stop`].
pub struct Follower {
    /// What arrived so far, in arrival order.
    pub delivered: Arc<Mutex<Vec<Delivered>>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<u64>,
}

impl Follower {
    /// Follows the events stored after stream sequence `after`.
    pub fn start(api: &Api, token: &str, after: u64) -> Self {
        let delivered = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(follow(
            api.clone(),
            token.to_owned(),
            after,
            Arc::clone(&delivered),
            stopped,
        ));
        Self {
            delivered,
            stop,
            task,
        }
    }

    /// Events received so far.
    pub fn received(&self) -> Vec<Delivered> {
        self.delivered.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// Stops following: every event received, and how many times the stream was opened again
    /// (refused attempts while the gateway had no JetStream are not counted).
    pub async fn stop(self) -> (Vec<Delivered>, u64) {
        let _ = self.stop.send(true);
        let reopened = self.task.await.unwrap_or_default();
        let delivered = self.delivered.lock().map(|d| d.clone()).unwrap_or_default();
        (delivered, reopened)
    }
}

async fn follow(
    api: Api,
    token: String,
    after: u64,
    delivered: Arc<Mutex<Vec<Delivered>>>,
    mut stopped: watch::Receiver<bool>,
) -> u64 {
    let mut last = after;
    let mut opens = 0_u64;
    while !*stopped.borrow() {
        let last_id = last.to_string();
        let mut stream = match api.open_events(TYPES, &token, Some(&last_id)).await {
            Ok(stream) if stream.status == 200 => {
                opens += 1;
                stream
            }
            _ => {
                tokio::select! {
                    () = tokio::time::sleep(BACKOFF) => {}
                    _ = stopped.changed() => {}
                }
                continue;
            }
        };
        loop {
            let next = tokio::select! {
                next = stream.next(SILENCE) => next,
                _ = stopped.changed() => break,
            };
            let Next::Event(event) = next else { break };
            let Some(got) = parse(&event.id, &event.data) else {
                continue;
            };
            last = got.seq;
            if let Ok(mut d) = delivered.lock() {
                d.push(got);
            }
        }
    }
    opens.saturating_sub(1)
}

/// The sequence and the CloudEvent fields the verdict needs; `None` for anything else.
fn parse(sse_id: &str, data: &str) -> Option<Delivered> {
    let seq = sse_id.parse().ok()?;
    let json: serde_json::Value = serde_json::from_str(data).ok()?;
    let field = |name: &str| json.get(name)?.as_str().map(str::to_owned);
    Some(Delivered {
        seq,
        id: field("id")?,
        ty: field("type")?,
        subject: field("subject")?,
    })
}
