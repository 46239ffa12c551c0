//! The health server every binary runs on `HEALTH_ADDR`: `/livez`, `/readyz`, `/metrics`.
//!
//! - `/livez` answers 200 while the process can serve HTTP at all.
//! - `/readyz` runs every readiness check (each bounded by a timeout) and answers 200 when
//!   all pass, 503 otherwise, with each check's result in the JSON body.
//! - `/metrics` renders the process's Prometheus registry in the text format 0.0.4
//!   ([`crate::exposition`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::Client;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use serde_json::json;
use tokio::net::TcpListener;

/// How long one readiness check may take before it counts as failed.
pub const CHECK_TIMEOUT: Duration =
    Duration::from_millis(contract::deploy::READINESS_CHECK_TIMEOUT_MS);

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type Check = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// Readiness checks and the metrics registry of one process.
#[derive(Clone)]
pub struct Probes {
    checks: Vec<(String, Check)>,
    registry: Arc<Registry>,
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.checks.iter().map(|(n, _)| n).collect();
        f.debug_struct("Probes").field("checks", &names).finish()
    }
}

impl Probes {
    /// Probes with no checks yet, serving `registry` on `/metrics`.
    pub fn new(registry: Registry) -> Self {
        Self {
            checks: Vec::new(),
            registry: Arc::new(registry),
        }
    }

    /// Adds a named readiness check.
    #[must_use]
    pub fn check<F, Fut>(mut self, name: &str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks.push((
            name.to_owned(),
            Arc::new(move || Box::pin(check()) as CheckFuture),
        ));
        self
    }

    /// Ready only while `client` is connected to NATS.
    #[must_use]
    pub fn nats(self, client: Client) -> Self {
        self.check("nats", move || {
            let connected = crate::connect::is_connected(&client);
            async move {
                if connected {
                    Ok(())
                } else {
                    Err("not connected to NATS".to_owned())
                }
            }
        })
    }

    /// Ready only once `flag` is set (e.g. "registered with the Services API").
    #[must_use]
    pub fn flag(self, name: &str, flag: Arc<AtomicBool>, unset: &'static str) -> Self {
        self.check(name, move || {
            let set = flag.load(Ordering::Acquire);
            async move { if set { Ok(()) } else { Err(unset.to_owned()) } }
        })
    }

    /// Runs every check concurrently; returns whether all passed and each result.
    pub async fn readiness(&self) -> (bool, serde_json::Map<String, serde_json::Value>) {
        let results =
            futures::future::join_all(self.checks.iter().map(|(name, check)| async move {
                let result = match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                    Ok(result) => result,
                    Err(_) => Err(format!("check timed out after {CHECK_TIMEOUT:?}")),
                };
                (name.clone(), result)
            }))
            .await;
        let ready = results.iter().all(|(_, r)| r.is_ok());
        let map = results
            .into_iter()
            .map(|(name, r)| (name, json!(r.err().unwrap_or_else(|| "ok".to_owned()))))
            .collect();
        (ready, map)
    }

    /// The metrics in the Prometheus text format 0.0.4.
    pub fn render_metrics(&self) -> String {
        crate::exposition::render(&self.registry)
    }

    /// The health routes, to serve on their own listener or merge into another router.
    pub fn router(self) -> Router {
        Router::new()
            .route("/livez", get(|| async { "ok" }))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .with_state(self)
    }
}

impl Probes {
    /// The `/readyz` answer: 200 when every check passes, 503 otherwise, each check's result
    /// in the JSON body. For routers that hold the health in a state of their own.
    pub async fn readyz_response(&self) -> Response {
        let (ready, checks) = self.readiness().await;
        let status = if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        let body = json!({ "status": if ready { "ready" } else { "not ready" }, "checks": checks });
        (status, axum::Json(body)).into_response()
    }

    /// The `/metrics` answer: the registry in the Prometheus text format 0.0.4.
    pub fn metrics_response(&self) -> Response {
        crate::exposition::response(self.render_metrics())
    }
}

async fn readyz(State(health): State<Probes>) -> Response {
    health.readyz_response().await
}

async fn metrics(State(health): State<Probes>) -> Response {
    health.metrics_response()
}

/// Serves the health routes on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    health: Probes,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "health server listening");
    axum::serve(listener, health.router())
        .with_graceful_shutdown(shutdown)
        .await
}
