//! One request, from its headers to its reply: the [`RequestContext`] a handler sees, the
//! [`Handler`] shape, the auth-level check, the envelope decoding, and the error reply.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_nats::HeaderMap;
use async_nats::service::Request;
use bytes::Bytes;
use contract::caller::ROLE_ADMIN;
use contract::{AuthLevel, Caller, Operation, RequestOf, ServiceError, headers};
use futures::FutureExt;
use tokio::sync::OwnedSemaphorePermit;
use tracing::{Instrument, debug, error, info_span, warn};

use crate::metrics::ServiceMetrics;
use crate::{deadline, propagation, telemetry};

/// What a handler knows about the request besides its body.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request id, if the caller sent one.
    pub request_id: Option<String>,
    /// The verified caller, if the gateway forwarded one.
    pub caller: Option<Caller>,
    /// All request headers.
    pub headers: HeaderMap,
    /// Headers the handler adds to a successful reply ([`RequestContext::set_reply_header`]).
    reply_headers: Arc<Mutex<HeaderMap>>,
}

impl RequestContext {
    /// The verified caller's user id, if there is one (the acting user of an event).
    #[must_use]
    pub fn user_id(&self) -> Option<String> {
        self.caller.as_ref().map(|c| c.user_id.clone())
    }

    /// Reads the context from a copy of a request's headers.
    pub fn from_headers(headers: Option<&HeaderMap>) -> Self {
        Self::from_header_map(headers.cloned().unwrap_or_default())
    }

    /// Reads the context from a request's headers, which it keeps.
    pub fn from_header_map(headers: HeaderMap) -> Self {
        let get = |name| {
            headers
                .get(name)
                .map(|v: &async_nats::HeaderValue| v.as_str())
        };
        Self {
            request_id: get(headers::REQUEST_ID).map(str::to_owned),
            caller: Caller::from_headers(get(headers::USER_ID), get(headers::ROLES)),
            headers,
            reply_headers: Arc::default(),
        }
    }

    /// Adds a header to the reply if the handler succeeds (an error reply carries only the
    /// error headers). Clones of this context share the reply's headers.
    pub fn set_reply_header(&self, name: &'static str, value: &str) {
        self.reply_headers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name, value);
    }

    /// The headers set with [`RequestContext::set_reply_header`] so far.
    pub fn reply_headers(&self) -> HeaderMap {
        self.reply_headers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The caller, or 401 when the request carries none.
    pub fn require_caller(&self) -> Result<&Caller, ServiceError> {
        self.caller
            .as_ref()
            .ok_or_else(|| ServiceError::unauthenticated("authentication required"))
    }
}

/// The status recorded in metrics for a request dropped at its deadline (no reply is sent):
/// the gateway answers such a request 504.
pub const EXPIRED: u16 = 504;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A handler of operation `O` with state `S`: any
/// `async fn(S, RequestContext, RequestOf<O>) -> Result<O::Response, ServiceError>`.
pub trait Handler<S, O: Operation>: Send + Sync + 'static {
    /// Handles one request.
    fn call(
        &self,
        state: S,
        ctx: RequestContext,
        request: RequestOf<O>,
    ) -> impl Future<Output = Result<O::Response, ServiceError>> + Send;
}

impl<S, O, F, Fut> Handler<S, O> for F
where
    O: Operation,
    F: Fn(S, RequestContext, RequestOf<O>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O::Response, ServiceError>> + Send,
{
    fn call(
        &self,
        state: S,
        ctx: RequestContext,
        request: RequestOf<O>,
    ) -> impl Future<Output = Result<O::Response, ServiceError>> + Send {
        self(state, ctx, request)
    }
}

pub(super) type Erased<S> =
    Arc<dyn Fn(S, RequestContext, Bytes) -> BoxFuture<Result<Bytes, ServiceError>> + Send + Sync>;

/// One endpoint: its name, subject, metadata (the operation's HTTP mapping, or what the
/// endpoint is for), success status, and erased handler.
pub(super) struct EndpointDef<S> {
    pub(super) name: &'static str,
    pub(super) subject: String,
    pub(super) metadata: std::collections::HashMap<String, String>,
    pub(super) success_status: u16,
    pub(super) handler: Erased<S>,
}

pub(super) fn erase<S, O, H>(handler: H) -> Erased<S>
where
    S: Send + 'static,
    O: Operation,
    H: Handler<S, O>,
{
    let handler = Arc::new(handler);
    Arc::new(move |state, ctx, payload| {
        let handler = handler.clone();
        Box::pin(async move {
            authorize(O::AUTH, &ctx)?;
            let request = decode::<RequestOf<O>>(&payload)?;
            let response = handler.call(state, ctx, request).await?;
            serde_json::to_vec(&response).map(Bytes::from).map_err(|e| {
                error!(error = %e, "response could not be encoded");
                ServiceError::internal()
            })
        })
    })
}

/// The handler of the schema endpoint: answers `document` to any request.
pub(super) fn constant<S>(document: Bytes) -> Erased<S> {
    Arc::new(move |_, _, _| {
        let document = document.clone();
        Box::pin(async move { Ok(document) })
    })
}

/// Enforces an endpoint's declared auth level on the caller the gateway forwarded, so a
/// service reached directly over NATS refuses what the gateway would refuse: 401 without a
/// caller where one is needed, 403 without the `admin` role where it is needed.
pub fn authorize(level: AuthLevel, ctx: &RequestContext) -> Result<(), ServiceError> {
    match level {
        AuthLevel::Public => Ok(()),
        AuthLevel::User => ctx.require_caller().map(drop),
        AuthLevel::Admin if ctx.require_caller()?.has_role(ROLE_ADMIN) => Ok(()),
        AuthLevel::Admin => Err(ServiceError::forbidden("the admin role is required")),
    }
}

/// Decodes an envelope; an empty payload is an envelope with every part defaulted.
fn decode<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, ServiceError> {
    let payload = if payload.is_empty() {
        b"{}".as_slice()
    } else {
        payload
    };
    // The path to a bad value is tracked only once decoding has failed: tracking it costs
    // allocations on every request, and the second pass decodes the same bytes the same way.
    if let Ok(decoded) = serde_json::from_slice(payload) {
        return Ok(decoded);
    }
    let de = &mut serde_json::Deserializer::from_slice(payload);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let message = without_position(&e.into_inner());
        ServiceError::bad_request(format!("invalid request: {field}: {message}"))
            .with_details(serde_json::json!({ "fields": [{ "field": field, "message": message }] }))
    })
}

/// The decoding error's message without serde_json's " at line L column C": that position is
/// in the envelope the gateway built, not in anything the client sent (a query string has no
/// lines, and a body sits at another offset inside the envelope), so the path names the place.
fn without_position(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match message.strip_suffix(&position) {
        Some(bare) => bare.to_owned(),
        None => message,
    }
}

/// Handles one delivered request in its own span and replies; holds `_permit` until done.
pub(super) async fn handle<S: Send + 'static>(
    service: Arc<str>,
    def: Arc<EndpointDef<S>>,
    state: S,
    mut request: Request,
    metrics: Option<ServiceMetrics>,
    _permit: OwnedSemaphorePermit,
) {
    let started = Instant::now();
    let _in_flight = metrics.as_ref().map(ServiceMetrics::start);
    // The context takes the headers over: nothing after this reads them from the message.
    let headers = request.message.headers.take();
    let deadline = deadline::from_headers(headers.as_ref(), started.into());
    let span = span(&service, def.name, headers.as_ref());
    let ctx = RequestContext::from_header_map(headers.unwrap_or_default());
    // The handler owns its context; this handle shares the headers it sets for the reply.
    let reply_headers = Arc::clone(&ctx.reply_headers);
    async {
        let payload = request.message.payload.clone();
        let work = deadline::scope(deadline, (def.handler)(state, ctx, payload));
        let work = AssertUnwindSafe(work).catch_unwind();
        let outcome = match deadline {
            // `timeout_at` polls its future once even past the deadline: an expired request
            // must not start at all.
            Some(deadline) if deadline <= tokio::time::Instant::now() => Err(()),
            Some(deadline) => tokio::time::timeout_at(deadline, work).await.map_err(drop),
            None => Ok(work.await),
        };
        let Ok(outcome) = outcome else {
            // Nobody waits for the answer any more: no reply, and the handler's future is
            // dropped (never polled when the request arrived with no time left).
            debug!("deadline passed; request dropped without a reply");
            record_status(EXPIRED);
            if let Some(metrics) = &metrics {
                metrics.observe(def.name, EXPIRED, started.elapsed());
            }
            return;
        };
        let outcome = outcome.unwrap_or_else(|_| {
            error!("handler panicked");
            Err(ServiceError::internal())
        });
        let (status, headers, body) = match outcome {
            Ok(body) => {
                let headers = std::mem::take(
                    &mut *reply_headers
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                );
                (def.success_status, headers, body)
            }
            Err(err) => {
                let (headers, body) = error_reply(&err);
                (err.status(), headers, body)
            }
        };
        record_status(status);
        if let Err(e) = request.respond_with_headers(Ok(body), headers).await {
            warn!(error = %e, "reply could not be sent");
        }
        if let Some(metrics) = &metrics {
            metrics.observe(def.name, status, started.elapsed());
        }
        debug!(
            status,
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "handled"
        );
    }
    .instrument(span)
    .await;
}

/// The request's `nats.request` span, a child of the caller's trace context, when traces are
/// exported.
///
/// When they are not, the span only gives the lines logged inside the request their request
/// id (to match them with the gateway's access log): opening an enabled span formats each of
/// its fields for the log output, which `make bench-instructions` counted at about a twentieth
/// of a service's instructions for a `GET /products/{id}` with the full set of fields.
fn span(service: &str, endpoint: &'static str, headers: Option<&HeaderMap>) -> tracing::Span {
    let request_id = headers
        .and_then(|h| h.get(headers::REQUEST_ID))
        .map_or("", async_nats::HeaderValue::as_str);
    if !telemetry::exporting() {
        return info_span!("nats.request", request_id);
    }
    let span = info_span!(
        "nats.request",
        otel.kind = "server",
        service,
        endpoint,
        request_id,
        status = tracing::field::Empty,
    );
    if let Some(headers) = headers {
        propagation::set_parent_from(&span, headers);
    }
    span
}

/// Records the reply's status on the request's span, when traces are exported (recording a
/// field re-formats the span's fields for the log output, where the status shows nowhere).
fn record_status(status: u16) {
    if telemetry::exporting() {
        tracing::Span::current().record("status", status);
    }
}

/// The headers and JSON body of an error reply.
pub fn error_reply(err: &ServiceError) -> (HeaderMap, Bytes) {
    let mut headers = HeaderMap::new();
    headers.insert(headers::SERVICE_ERROR_CODE, err.status().to_string());
    // Header values cannot carry line breaks; the body has the exact message.
    headers.insert(
        headers::SERVICE_ERROR,
        err.message.replace(['\r', '\n'], " "),
    );
    if let Some(secs) = err.retry_after_secs {
        headers.insert(headers::RETRY_AFTER, secs.to_string());
    }
    let body = serde_json::to_vec(err).unwrap_or_else(|_| b"{}".to_vec());
    (headers, body.into())
}
