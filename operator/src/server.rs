//! The operator's HTTP endpoints: `/livez` (the process runs), `/readyz` (the stack cache has
//! synced) and `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::metrics::Metrics;

/// State shared by the endpoints and the controller.
#[derive(Clone, Debug, Default)]
pub struct Health {
    /// Set once the controller's caches have synced.
    pub ready: Arc<AtomicBool>,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
}

/// The router of the health and metrics endpoints.
pub fn router(health: Health) -> Router {
    Router::new()
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health)
}

async fn readyz(State(health): State<Health>) -> impl IntoResponse {
    if health.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "caches not synced")
    }
}

async fn metrics(State(health): State<Health>) -> Response {
    runtime::exposition::response(health.metrics.encode())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;

    async fn get(health: &Health, path: &str) -> (StatusCode, String) {
        let response = router(health.clone())
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn readyz_follows_cache_sync_and_metrics_are_exposed() {
        let health = Health::default();
        assert_eq!(get(&health, "/livez").await.0, StatusCode::OK);
        assert_eq!(
            get(&health, "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        health.ready.store(true, Ordering::Release);
        assert_eq!(get(&health, "/readyz").await.0, StatusCode::OK);
        health.metrics.failure("ApiError");
        health.metrics.record("ok", std::time::Instant::now());
        health
            .metrics
            .stacks
            .watch(crate::metrics::stacks::tests::store_of(&[(
                "shop",
                "a",
                Some(crate::status::conditions::Truth::True),
            )]));
        let (status, text) = get(&health, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        runtime::test_support::metrics::assert_promtool_clean(&text);
        assert!(
            text.contains(
                r#"natstack_operator_stack_ready{namespace="shop",natstack_stack="a"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains("natstack_operator_reconcile_failures_total{reason=\"ApiError\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("natstack_operator_reconcile_duration_seconds"),
            "{text}"
        );
    }
}
