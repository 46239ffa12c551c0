//! Typed request-reply with a deadline per call.
//!
//! [`Requester`] multiplexes every request over one wildcard inbox subscription, like
//! `async_nats::Client::request`, but removes a request's reply slot whenever the request
//! ends, by reply, timeout or cancellation. async-nats keeps the slot of a request that
//! timed out forever (nats.rs#1617), so a gateway facing a slow service would grow without
//! bound; here [`Requester::pending`] returns to zero, and a test holds it to that.
//!
//! Outcomes map to distinct [`CallError`] variants: no responders (503 at the gateway),
//! timeout (504), an error reply (the service's own status), an undecodable reply (502).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::{Client, HeaderMap, Message, StatusCode};
use bytes::Bytes;
use contract::{ErrorCode, Operation, RequestOf, ServiceError, headers};
use futures::StreamExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::{deadline, header_names, propagation};

/// Default deadline for a call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a call did not produce a response.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Nothing is subscribed to the subject.
    #[error("no service is listening on `{subject}`")]
    NoResponders {
        /// The subject called.
        subject: String,
    },
    /// No reply arrived before the deadline.
    #[error("`{subject}` did not answer within {timeout:?}")]
    TimedOut {
        /// The subject called.
        subject: String,
        /// The deadline that passed.
        timeout: Duration,
    },
    /// The service answered with an error.
    #[error("`{subject}` answered {error}")]
    Service {
        /// The subject called.
        subject: String,
        /// The service's error.
        error: ServiceError,
    },
    /// The reply could not be decoded as the operation's response type.
    #[error("reply from `{subject}` could not be decoded: {source}")]
    Decode {
        /// The subject called.
        subject: String,
        /// The decoding error.
        source: serde_json::Error,
    },
    /// The request could not be encoded.
    #[error("request could not be encoded: {0}")]
    Encode(#[source] serde_json::Error),
    /// The request is larger than the server accepts.
    #[error("request of {size} bytes is over the NATS server's limit of {max}")]
    PayloadTooLarge {
        /// The request's size.
        size: usize,
        /// The server's `max_payload`.
        max: usize,
    },
    /// The connection failed or closed.
    #[error("NATS transport error: {0}")]
    Transport(String),
}

/// Options of one call.
#[derive(Debug, Clone)]
pub struct CallOptions {
    /// The deadline.
    pub timeout: Duration,
    /// Headers to send (request id, caller identity); trace context is added automatically.
    pub headers: HeaderMap,
}

impl Default for CallOptions {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            headers: HeaderMap::new(),
        }
    }
}

impl CallOptions {
    /// Options with this deadline.
    pub fn timeout(timeout: Duration) -> Self {
        Self {
            timeout,
            ..Self::default()
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.insert(name, value.into());
        self
    }
}

type Slots = Mutex<HashMap<u64, oneshot::Sender<Message>>>;

struct Inner {
    client: Client,
    prefix: String,
    next: AtomicU64,
    slots: Arc<Slots>,
    dispatcher: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The dispatcher owns the inbox subscription; stopping it unsubscribes.
        self.dispatcher.abort();
    }
}

/// Sends requests and routes their replies. Cheap to clone; clones share one inbox.
#[derive(Clone)]
pub struct Requester {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Requester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Requester")
            .field("prefix", &self.inner.prefix)
            .field("pending", &self.pending())
            .finish()
    }
}

/// Removes a request's reply slot when the request ends, however it ends.
struct SlotGuard<'a> {
    slots: &'a Slots,
    token: u64,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        lock(self.slots).remove(&self.token);
    }
}

fn lock(slots: &Slots) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Message>>> {
    // A panic while holding this lock cannot leave the map inconsistent (single inserts and
    // removes), so a poisoned lock is still usable.
    slots
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Requester {
    /// Subscribes the shared reply inbox on `client`: `<inbox prefix>.<nuid>.*`, under the
    /// prefix the connection was made with (`NATS_INBOX_PREFIX`), which NATS permissions
    /// grant to this component alone.
    pub async fn new(client: Client) -> Result<Self, CallError> {
        let prefix = client.new_inbox();
        let mut replies = client
            .subscribe(format!("{prefix}.*"))
            .await
            .map_err(|e| CallError::Transport(e.to_string()))?;
        let slots: Arc<Slots> = Arc::default();
        let dispatcher = tokio::spawn({
            let slots = slots.clone();
            let prefix_len = prefix.len() + 1;
            async move {
                while let Some(message) = replies.next().await {
                    let token = message
                        .subject
                        .get(prefix_len..)
                        .and_then(|t| t.parse::<u64>().ok());
                    let slot = token.and_then(|t| lock(&slots).remove(&t));
                    match slot {
                        // The requester may have given up in the meantime; that is fine.
                        Some(tx) => drop(tx.send(message)),
                        None => debug!(subject = %message.subject, "late or unknown reply dropped"),
                    }
                }
            }
        });
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                prefix,
                next: AtomicU64::new(0),
                slots,
                dispatcher,
            }),
        })
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Requests still waiting for a reply. Returns to zero when nothing is in flight, whatever
    /// happened to earlier requests.
    pub fn pending(&self) -> usize {
        lock(&self.inner.slots).len()
    }

    /// Sends `payload` to `subject` and waits up to `options.timeout` for the reply message
    /// (less when called while handling a request with less time left; see [`deadline`]).
    /// The request carries the deadline in [`headers::DEADLINE_MS`].
    /// Error replies are returned as messages: see [`error_of`] to read them.
    pub async fn request(
        &self,
        subject: &str,
        payload: Bytes,
        options: CallOptions,
    ) -> Result<Message, CallError> {
        let inner = &*self.inner;
        // An atomic read: `server_info()` would clone the server's whole INFO per request.
        let max = inner.client.max_payload();
        if max > 0 && payload.len() > max {
            return Err(CallError::PayloadTooLarge {
                size: payload.len(),
                max,
            });
        }
        // Inside a handler, never wait longer than that request's own caller; and tell the
        // callee how long that is, so it stops work nobody waits for.
        let timeout = deadline::bound(options.timeout);
        if timeout.is_zero() {
            return Err(CallError::TimedOut {
                subject: subject.to_owned(),
                timeout,
            });
        }
        let mut headers = options.headers;
        headers.insert(header_names::DEADLINE_MS, deadline::header_value(timeout));
        propagation::inject_current(&mut headers);

        let token = inner.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&inner.slots).insert(token, tx);
        let _guard = SlotGuard {
            slots: &inner.slots,
            token,
        };
        inner
            .client
            .publish_with_reply_and_headers(
                subject.to_owned(),
                format!("{}.{token}", inner.prefix),
                headers,
                payload,
            )
            .await
            .map_err(|e| CallError::Transport(e.to_string()))?;

        match tokio::time::timeout(timeout, rx).await {
            Err(_) => Err(CallError::TimedOut {
                subject: subject.to_owned(),
                timeout,
            }),
            Ok(Err(_)) => Err(CallError::Transport("connection closed".into())),
            Ok(Ok(message)) if message.status == Some(StatusCode::NO_RESPONDERS) => {
                Err(CallError::NoResponders {
                    subject: subject.to_owned(),
                })
            }
            Ok(Ok(message)) => Ok(message),
        }
    }

    /// Calls operation `O` with a typed request and decodes the typed response.
    pub async fn call<O: Operation>(
        &self,
        request: &RequestOf<O>,
        options: CallOptions,
    ) -> Result<O::Response, CallError> {
        let subject = O::subject();
        let payload = serde_json::to_vec(request).map_err(CallError::Encode)?;
        let reply = self.request(&subject, payload.into(), options).await?;
        if let Some(error) = error_of(&reply) {
            return Err(CallError::Service { subject, error });
        }
        serde_json::from_slice(&reply.payload)
            .map_err(|source| CallError::Decode { subject, source })
    }
}

/// The error carried by a reply, if it is an error reply: the JSON body when it decodes,
/// otherwise an error built from the Services API headers alone.
pub fn error_of(reply: &Message) -> Option<ServiceError> {
    let headers = reply.headers.as_ref()?;
    let code = headers.get(headers::SERVICE_ERROR_CODE)?.as_str();
    let Ok(status) = code.trim().parse::<u16>() else {
        warn!(code, "reply carries an unparsable error code");
        return Some(ServiceError::new(
            ErrorCode::BadGateway,
            "upstream sent an invalid error",
        ));
    };
    let mut error = serde_json::from_slice::<ServiceError>(&reply.payload)
        .ok()
        .filter(|e| e.code.status() == status)
        .unwrap_or_else(|| {
            let message = headers
                .get(headers::SERVICE_ERROR)
                .map_or("upstream error", |v| v.as_str());
            ServiceError::new(ErrorCode::from_status(status), message)
        });
    error.retry_after_secs = headers
        .get(headers::RETRY_AFTER)
        .and_then(|v| v.as_str().trim().parse().ok());
    Some(error)
}
