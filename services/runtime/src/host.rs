//! The life of a service process, written once: every service's `run` is a [`Host`].
//!
//! 1. the health server (`/livez`, `/readyz`, `/metrics`) answers at once on its listener;
//!    `/readyz` is 503 until NATS is connected, every [`Host::ready_when`] check passes and
//!    the service is registered;
//! 2. NATS is connected without waiting (a cluster has no start order: the client keeps
//!    trying in the background);
//! 3. the service's start step runs: it waits for its dependencies (e.g. migrations through
//!    [`crate::retry::with_backoff`]) and returns the [`ServiceBuilder`]; shutdown during this
//!    step ends the process cleanly;
//! 4. the service registers with the Services API and serves until shutdown, then drains
//!    in-flight requests, flushes NATS and stops the health server.
//!
//! A service that owns a PostgreSQL database (feature `postgres`) runs with
//! [`Host::run_with_database`]: the database check, the migrations and the pool come with it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::FutureExt;
use futures::future::BoxFuture;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::config::NatsArgs;
use crate::connect::ConnectError;
use crate::health::{self, Probes};
use crate::metrics::ServiceMetrics;
use crate::serve::{ServeError, ServiceBuilder};

/// Why a hosted service stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// NATS could not be set up.
    #[error(transparent)]
    Nats(#[from] ConnectError),
    /// The service could not be registered or run.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// The health server failed.
    #[error("health server: {0}")]
    Health(#[from] std::io::Error),
    /// The database could not be set up.
    #[cfg(feature = "postgres")]
    #[error(transparent)]
    Database(#[from] crate::pg::PgError),
}

type AddCheck = Box<dyn FnOnce(Probes) -> Probes + Send>;

/// A task the host runs beside the service, given its NATS connection.
type Background = Box<dyn FnOnce(async_nats::Client) -> BoxFuture<'static, ()> + Send>;

/// One service process; see the module docs.
pub struct Host {
    name: String,
    nats: NatsArgs,
    registry: Registry,
    checks: Vec<AddCheck>,
    background: Vec<Background>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("name", &self.name)
            .field("nats", &self.nats)
            .field("checks", &self.checks.len())
            .field("background", &self.background.len())
            .finish_non_exhaustive()
    }
}

impl Host {
    /// A host for service `name` (its NATS connection name) connecting with `nats`.
    pub fn new(name: &str, nats: &NatsArgs) -> Self {
        Self {
            name: name.to_owned(),
            nats: nats.clone(),
            registry: Registry::default(),
            checks: Vec::new(),
            background: Vec::new(),
        }
    }

    /// Adds a task that runs beside the service (e.g. the outbox relay): started, with the
    /// service's NATS connection, once the start step has succeeded (so after migrations),
    /// and aborted when the service stops. It must be safe to abort at any await point.
    #[must_use]
    pub fn beside<F, Fut>(mut self, task: F) -> Self
    where
        F: FnOnce(async_nats::Client) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.background
            .push(Box::new(move |client| task(client).boxed()));
        self
    }

    /// The registry `/metrics` renders, for the service's own metrics.
    pub fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Adds a readiness check named `name` (e.g. "database"), besides NATS and registration.
    #[must_use]
    pub fn ready_when<F, Fut>(mut self, name: &str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let name = name.to_owned();
        self.checks
            .push(Box::new(move |health: Probes| health.check(&name, check)));
        self
    }

    /// Runs the service until `shutdown` resolves; `start` waits for the service's
    /// dependencies and returns its builder, to which the host adds the request metrics
    /// (`natstack_service_*` on `/metrics`). See the module docs for the order of things.
    pub async fn run<S, E, F, Fut>(
        mut self,
        health_listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
        start: F,
    ) -> Result<(), E>
    where
        S: Clone + Send + Sync + 'static,
        E: From<HostError>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<ServiceBuilder<S>, E>>,
    {
        let shutdown = shutdown.boxed().shared();
        let metrics = ServiceMetrics::new(&mut self.registry);
        let client = crate::connect::connect(&self.nats, &self.name, false)
            .await
            .map_err(HostError::from)?;
        let registered = Arc::new(AtomicBool::new(false));
        let mut health = Probes::new(self.registry).nats(client.clone());
        for add in self.checks {
            health = add(health);
        }
        let health = health.flag("registered", registered.clone(), "not registered yet");
        let health_task = tokio::spawn(health::serve(health_listener, health, shutdown.clone()));
        let mut beside = Vec::new();

        let result = async {
            let builder = tokio::select! {
                built = start() => built?.metrics(metrics),
                () = shutdown.clone() => return Ok(()),
            };
            for task in self.background {
                beside.push(tokio::spawn(task(client.clone())));
            }
            let service = tokio::select! {
                service = builder.start(&client) => service.map_err(HostError::from)?,
                () = shutdown.clone() => return Ok(()),
            };
            registered.store(true, Ordering::Release);
            info!(service = %self.name, id = service.id(), "service ready");
            let served = service.run(shutdown.clone()).await;
            registered.store(false, Ordering::Release);
            served.map_err(|e| E::from(HostError::from(e)))
        }
        .await;

        for task in beside {
            task.abort();
        }
        crate::connect::flush(&client).await;
        // The health server stops on the same shutdown signal; on an early error, stop it here.
        if result.is_err() {
            health_task.abort();
            return result;
        }
        match health_task.await {
            Ok(served) => served.map_err(|e| E::from(HostError::from(e)))?,
            Err(e) => warn!(error = %e, "health server task failed"),
        }
        result
    }
}

#[cfg(feature = "postgres")]
impl Host {
    /// [`Host::run`] for a service that owns a PostgreSQL database: ready only while the
    /// database answers; `migrator` runs (retried while the database is down or not
    /// provisioned yet, see [`crate::pg::migrate`]) before `build` gets the pool; the pool is
    /// closed on the way out. With `outbox`, the database has the `outbox` table
    /// ([`crate::outbox`]) and its relay runs beside the service (unless the benchmark turned
    /// it off, see `outbox::switch`).
    pub async fn run_with_database<S>(
        mut self,
        database: &crate::pg::PgArgs,
        outbox: bool,
        migrator: &'static sqlx::migrate::Migrator,
        health_listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
        build: impl FnOnce(sqlx::PgPool) -> ServiceBuilder<S>,
    ) -> Result<(), HostError>
    where
        S: Clone + Send + Sync + 'static,
    {
        let pool = crate::pg::pool(database)?;
        crate::pg::pool_metrics::register(&mut self.registry, &pool);
        if outbox && crate::outbox::switch::from_env() {
            let metrics = crate::outbox::metrics::OutboxMetrics::new(&mut self.registry);
            let pool = pool.clone();
            self = self.beside(move |client| {
                crate::outbox::relay::Relay::new(pool, client, metrics).run()
            });
        }
        let result = self
            .ready_when("database", {
                let pool = pool.clone();
                move || crate::pg::ping(pool.clone())
            })
            .run(health_listener, shutdown, || async {
                crate::pg::migrate(&pool, migrator).await?;
                Ok(build(pool.clone()))
            })
            .await;
        pool.close().await;
        result
    }
}
