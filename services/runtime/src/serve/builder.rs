//! [`ServiceBuilder`]: a service's identity and endpoints, registered with the Services API.

use std::sync::Arc;
use std::time::Duration;

use async_nats::Client;
use async_nats::service::ServiceExt;
use contract::schema::{self, SCHEMA_ENDPOINT, SchemaSet};
use contract::{Operation, metadata};
use futures::StreamExt;
use tokio::sync::Semaphore;
use tracing::info;

use super::request::{EndpointDef, Handler, constant, erase};
use super::running::RunningService;
use super::{DEFAULT_DRAIN_TIMEOUT, DEFAULT_MAX_IN_FLIGHT, QUEUE_GROUP, ServeError};
use crate::metrics::ServiceMetrics;

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
    schemas: SchemaSet,
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
            schemas: SchemaSet::new(),
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

    /// Adds the endpoint of operation `O`, handled by `handler`; with its HTTP mapping as
    /// metadata unless `O` is [internal](Operation::INTERNAL).
    #[must_use]
    pub fn endpoint<O: Operation, H: Handler<S, O>>(mut self, handler: H) -> Self {
        let meta = O::meta();
        // An internal operation has no HTTP mapping for the gateway to route by.
        let metadata = if O::INTERNAL {
            std::collections::HashMap::new()
        } else {
            meta.to_metadata()
        };
        self.endpoints.push(EndpointDef {
            name: O::NAME,
            subject: O::subject(),
            metadata,
            success_status: meta.success_status,
            handler: erase::<S, O, H>(handler),
        });
        self.schemas.add::<O>();
        self
    }

    /// Registers the service and its endpoints and flushes the subscriptions to the server.
    ///
    /// Besides the operations it registers the schema endpoint (`<service>.schema`, metadata
    /// `natstack.kind=schema`), which answers the JSON Schemas of every operation as one
    /// document, and tags every operation's metadata with that document's `schema.hash`
    /// (see [`contract::schema`]).
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
        let mut endpoints = self.endpoints;
        let document = bytes::Bytes::from(self.schemas.finish().to_bytes());
        let hash = schema::hash(&document);
        for def in &mut endpoints {
            def.metadata
                .insert(metadata::SCHEMA_HASH.to_owned(), hash.clone());
        }
        endpoints.push(EndpointDef {
            name: SCHEMA_ENDPOINT,
            subject: schema::subject(&self.name),
            metadata: [(metadata::KIND.to_owned(), metadata::KIND_SCHEMA.to_owned())].into(),
            success_status: 200,
            handler: constant(document),
        });
        let mut names = std::collections::HashSet::new();
        for def in &endpoints {
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
        let mut streams = Vec::with_capacity(endpoints.len());
        for def in endpoints {
            let endpoint = service
                .endpoint_builder()
                .name(def.name)
                .metadata(def.metadata.clone())
                .add(def.subject.clone())
                .await
                .map_err(|e| register(e.to_string()))?;
            let def = Arc::new(def);
            streams.push(endpoint.map(move |request| (def.clone(), request)).boxed());
        }
        client.flush().await.map_err(ServeError::Connection)?;
        let id = service.info().await.id;
        info!(service = %self.name, version = %self.version, %id, endpoints = streams.len(), schema = %hash, "service registered");
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
