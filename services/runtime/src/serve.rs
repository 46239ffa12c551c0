//! Serving a service over NATS with the Services API.
//!
//! [`ServiceBuilder`] registers a service (name, version, description) and one endpoint per
//! [`Operation`] in queue group `q`, with the operation's HTTP mapping as endpoint metadata.
//! [`RunningService::run`] then:
//!
//! - enforces the operation's declared auth level on the forwarded caller (401/403);
//! - decodes each request's envelope into the operation's typed request (a bad envelope is a
//!   400 naming the offending field);
//! - runs every request in its own task, at most `max_in_flight` at once: the Services API
//!   stream yields requests one by one, and handling them inline would serialise an endpoint;
//! - replies with the JSON response, or with the `Nats-Service-Error(-Code)` headers *and* a
//!   JSON error body (async-nats's own error reply has an empty body);
//! - runs the handler in a span carrying the request id and the caller's trace context;
//! - on shutdown, drains: stops taking requests (unsubscribes), handles what was already
//!   delivered, waits for in-flight handlers up to a deadline, then flushes the replies.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::service::{Request, ServiceExt};
use async_nats::{Client, HeaderMap};
use bytes::Bytes;
use contract::caller::ROLE_ADMIN;
use contract::{AuthLevel, Caller, Operation, RequestOf, ServiceError, headers};
use futures::{FutureExt, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::{Instrument, debug, error, info, info_span, warn};

use crate::metrics::ServiceMetrics;
use crate::propagation;

/// The queue group every endpoint joins, so instances share the load.
pub const QUEUE_GROUP: &str = "q";

/// Default bound on concurrently handled requests per service instance.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;

/// Default time to finish in-flight requests on shutdown.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a service could not be started or run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The Services API refused the service or an endpoint (bad name or version).
    #[error("cannot register service `{service}`: {reason}")]
    Register {
        /// The service name.
        service: String,
        /// The reason given.
        reason: String,
    },
    /// An operation belongs to another service.
    #[error("operation `{subject}` does not belong to service `{service}`")]
    ForeignOperation {
        /// The service name.
        service: String,
        /// The operation's subject.
        subject: String,
    },
    /// Two operations share a name.
    #[error("service `{service}` declares endpoint `{name}` twice")]
    DuplicateEndpoint {
        /// The service name.
        service: String,
        /// The repeated name.
        name: String,
    },
    /// Flushing the connection failed.
    #[error("NATS connection error: {0}")]
    Connection(String),
}

/// What a handler knows about the request besides its body.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request id, if the caller sent one.
    pub request_id: Option<String>,
    /// The verified caller, if the gateway forwarded one.
    pub caller: Option<Caller>,
    /// All request headers.
    pub headers: HeaderMap,
}

impl RequestContext {
    /// Reads the context from a request's headers.
    pub fn from_headers(headers: Option<&HeaderMap>) -> Self {
        let headers = headers.cloned().unwrap_or_default();
        let get = |name| {
            headers
                .get(name)
                .map(|v: &async_nats::HeaderValue| v.as_str())
        };
        Self {
            request_id: get(headers::REQUEST_ID).map(str::to_owned),
            caller: Caller::from_headers(get(headers::USER_ID), get(headers::ROLES)),
            headers,
        }
    }

    /// The caller, or 401 when the request carries none.
    pub fn require_caller(&self) -> Result<&Caller, ServiceError> {
        self.caller
            .as_ref()
            .ok_or_else(|| ServiceError::unauthenticated("authentication required"))
    }

    /// Headers for an onward call made on behalf of this request (request id and caller).
    pub fn onward_headers(&self) -> HeaderMap {
        let mut out = HeaderMap::new();
        for name in [headers::REQUEST_ID, headers::USER_ID, headers::ROLES] {
            if let Some(value) = self.headers.get(name) {
                out.insert(name, value.as_str());
            }
        }
        out
    }
}

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

type Erased<S> =
    Arc<dyn Fn(S, RequestContext, Bytes) -> BoxFuture<Result<Bytes, ServiceError>> + Send + Sync>;

struct EndpointDef<S> {
    name: &'static str,
    subject: String,
    meta: contract::EndpointMeta,
    handler: Erased<S>,
}

fn erase<S, O, H>(handler: H) -> Erased<S>
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
    let de = &mut serde_json::Deserializer::from_slice(payload);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let message = e.into_inner().to_string();
        ServiceError::bad_request(format!("invalid request: {field}: {message}"))
            .with_details(serde_json::json!({ "fields": [{ "field": field, "message": message }] }))
    })
}

/// Builds a service: its identity, its endpoints and their handlers.
pub struct ServiceBuilder<S> {
    name: String,
    version: String,
    description: String,
    state: S,
    max_in_flight: usize,
    drain_timeout: Duration,
    metrics: Option<ServiceMetrics>,
    endpoints: Vec<EndpointDef<S>>,
}

impl<S: Clone + Send + Sync + 'static> ServiceBuilder<S> {
    /// A service named `name` (the Services API name, and the first token of its subjects) at
    /// semver `version`, whose handlers receive a clone of `state`.
    pub fn new(name: &str, version: &str, description: &str, state: S) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            description: description.to_owned(),
            state,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            metrics: None,
            endpoints: Vec::new(),
        }
    }

    /// Bounds the requests handled at once (at least 1).
    #[must_use]
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max.max(1);
        self
    }

    /// How long shutdown waits for in-flight requests.
    #[must_use]
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Records request metrics.
    #[must_use]
    pub fn metrics(mut self, metrics: ServiceMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Adds the endpoint of operation `O`, handled by `handler`.
    #[must_use]
    pub fn endpoint<O: Operation, H: Handler<S, O>>(mut self, handler: H) -> Self {
        self.endpoints.push(EndpointDef {
            name: O::NAME,
            subject: O::subject(),
            meta: O::meta(),
            handler: erase::<S, O, H>(handler),
        });
        self
    }

    /// Registers the service and its endpoints and flushes the subscriptions to the server.
    ///
    /// Flushing writes them out but does not wait for the server to process them, so for a
    /// moment another connection may still see "no responders". (A round trip from this
    /// connection would need permissions the operator does not grant services.) Tests wait
    /// with `test_support::wait_for_instance`; the gateway's discovery and retries absorb it.
    pub async fn start(self, client: &Client) -> Result<RunningService<S>, ServeError> {
        let register = |reason: String| ServeError::Register {
            service: self.name.clone(),
            reason,
        };
        let prefix = format!("{}.", self.name);
        let mut names = std::collections::HashSet::new();
        for def in &self.endpoints {
            if !def.subject.starts_with(&prefix) {
                return Err(ServeError::ForeignOperation {
                    service: self.name.clone(),
                    subject: def.subject.clone(),
                });
            }
            if !names.insert(def.name) {
                return Err(ServeError::DuplicateEndpoint {
                    service: self.name.clone(),
                    name: def.name.to_owned(),
                });
            }
        }
        let service = client
            .service_builder()
            .description(&self.description)
            .queue_group(QUEUE_GROUP)
            .start(&self.name, &self.version)
            .await
            .map_err(|e| register(e.to_string()))?;
        let mut streams = Vec::with_capacity(self.endpoints.len());
        for def in self.endpoints {
            let endpoint = service
                .endpoint_builder()
                .name(def.name)
                .metadata(def.meta.to_metadata())
                .add(def.subject.clone())
                .await
                .map_err(|e| register(e.to_string()))?;
            let def = Arc::new(def);
            streams.push(endpoint.map(move |request| (def.clone(), request)).boxed());
        }
        client
            .flush()
            .await
            .map_err(|e| ServeError::Connection(e.to_string()))?;
        let id = service.info().await.id;
        info!(service = %self.name, version = %self.version, %id, endpoints = streams.len(), "service registered");
        Ok(RunningService {
            name: self.name,
            id,
            client: client.clone(),
            service,
            streams,
            state: self.state,
            semaphore: Arc::new(Semaphore::new(self.max_in_flight)),
            drain_timeout: self.drain_timeout,
            metrics: self.metrics,
        })
    }
}

type RequestStream<S> = futures::stream::BoxStream<'static, (Arc<EndpointDef<S>>, Request)>;

/// A registered service, ready to [`run`](Self::run).
pub struct RunningService<S> {
    name: String,
    id: String,
    client: Client,
    service: async_nats::service::Service,
    streams: Vec<RequestStream<S>>,
    state: S,
    semaphore: Arc<Semaphore>,
    drain_timeout: Duration,
    metrics: Option<ServiceMetrics>,
}

impl<S: Clone + Send + Sync + 'static> RunningService<S> {
    /// This instance's Services API id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Serves requests until `shutdown` resolves, then drains and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let Self {
            name,
            id,
            client,
            service,
            streams,
            state,
            semaphore,
            drain_timeout,
            metrics,
        } = self;
        // With no endpoints there is nothing to poll, but the service still answers discovery
        // until shutdown.
        let idle = streams.is_empty();
        let mut requests = futures::stream::select_all(streams);
        let mut tasks = JoinSet::new();
        let spawn = |tasks: &mut JoinSet<()>, def, request, permit| {
            let fut = handle(
                name.clone(),
                def,
                state.clone(),
                request,
                metrics.clone(),
                permit,
            );
            tasks.spawn(fut);
        };
        tokio::pin!(shutdown);
        if idle {
            shutdown.as_mut().await;
        } else {
            loop {
                let permit = tokio::select! {
                    () = &mut shutdown => break,
                    permit = semaphore.clone().acquire_owned() => permit.expect("semaphore is never closed"),
                };
                let next = tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    next = requests.next() => next,
                };
                let Some((def, request)) = next else {
                    warn!(service = %name, "all endpoint subscriptions closed");
                    break;
                };
                spawn(&mut tasks, def, request, permit);
                while tasks.try_join_next().is_some() {}
            }
        }

        info!(service = %name, %id, in_flight = tasks.len(), "draining");
        let deadline = tokio::time::Instant::now() + drain_timeout;
        // Stopping unsubscribes every endpoint; requests already delivered are still yielded
        // and handled before the streams end.
        if let Err(e) = service.stop().await {
            warn!(error = %e, "stopping the service failed");
        }
        while let Ok(Some((def, request))) =
            tokio::time::timeout_at(deadline, requests.next()).await
        {
            let Ok(Ok(permit)) =
                tokio::time::timeout_at(deadline, semaphore.clone().acquire_owned()).await
            else {
                break;
            };
            spawn(&mut tasks, def, request, permit);
        }
        while let Ok(Some(_)) = tokio::time::timeout_at(deadline, tasks.join_next()).await {}
        if !tasks.is_empty() {
            warn!(service = %name, abandoned = tasks.len(), "drain deadline passed");
            tasks.shutdown().await;
        }
        client
            .flush()
            .await
            .map_err(|e| ServeError::Connection(e.to_string()))?;
        info!(service = %name, %id, "stopped");
        Ok(())
    }
}

async fn handle<S: Send + 'static>(
    service: String,
    def: Arc<EndpointDef<S>>,
    state: S,
    request: Request,
    metrics: Option<ServiceMetrics>,
    _permit: OwnedSemaphorePermit,
) {
    let started = Instant::now();
    let _in_flight = metrics.as_ref().map(ServiceMetrics::start);
    let ctx = RequestContext::from_headers(request.message.headers.as_ref());
    let span = info_span!(
        "nats.request",
        otel.kind = "server",
        service = %service,
        endpoint = def.name,
        request_id = ctx.request_id.as_deref().unwrap_or_default(),
        status = tracing::field::Empty,
    );
    if let Some(headers) = &request.message.headers {
        propagation::set_parent_from(&span, headers);
    }
    async {
        let payload = request.message.payload.clone();
        let outcome = AssertUnwindSafe((def.handler)(state, ctx, payload))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                error!("handler panicked");
                Err(ServiceError::internal())
            });
        let (status, headers, body) = match outcome {
            Ok(body) => (def.meta.success_status, HeaderMap::new(), body),
            Err(err) => {
                let (headers, body) = error_reply(&err);
                (err.status(), headers, body)
            }
        };
        tracing::Span::current().record("status", status);
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
