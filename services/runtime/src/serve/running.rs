//! [`RunningService`]: the serving loop (each request in its own task, bounded) and the
//! drain on shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::Client;
use async_nats::service::Request;
use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{info, warn};

use super::ServeError;
use super::request::{EndpointDef, handle};
use crate::metrics::ServiceMetrics;

pub(super) type RequestStream<S> =
    futures::stream::BoxStream<'static, (Arc<EndpointDef<S>>, Request)>;

/// A registered service, ready to [`run`](Self::run).
pub struct RunningService<S> {
    pub(super) name: String,
    pub(super) id: String,
    pub(super) client: Client,
    pub(super) service: async_nats::service::Service,
    pub(super) streams: Vec<RequestStream<S>>,
    pub(super) state: S,
    pub(super) semaphore: Arc<Semaphore>,
    pub(super) drain_timeout: Duration,
    pub(super) metrics: Option<ServiceMetrics>,
}

impl<S: Clone + Send + Sync + 'static> RunningService<S> {
    /// This instance's Services API id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.name
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
        // Shared, not copied, by every request's task.
        let service_name: Arc<str> = Arc::from(name.as_str());
        let spawn = |tasks: &mut JoinSet<()>, def, request, permit| {
            let fut = handle(
                Arc::clone(&service_name),
                def,
                state.clone(),
                request,
                metrics.clone(),
                permit,
            );
            // Boxed: tokio moves a task's future into its cell and writes the whole cell again
            // when the task ends; a request's future is several KiB, a box two words.
            tasks.spawn(Box::pin(fut));
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
        client.flush().await.map_err(ServeError::Connection)?;
        info!(service = %name, %id, "stopped");
        Ok(())
    }
}
