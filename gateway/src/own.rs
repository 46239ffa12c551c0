//! The gateway's own endpoints: `/livez`, `/readyz`, `/openapi.json` on the API port (liveness
//! and readiness by the names the health listener uses; `/healthz` stays an alias of `/livez`,
//! since cluster checks and documented commands call it);
//! `GET /events` ([`crate::events`]);
//! `/metrics` and `/services` on the health listener ([`ops_router`]), and on the API port
//! only when [`OpsEndpoints::Admin`] allows it, to the admin role.
//!
//! [`routes`] lists every one of them, once: the gateway mounts that list, and the routing
//! table refuses a service's claim on any path in it ([`is_reserved`]), so a service can never
//! be listed as routed on a path the gateway answers itself.
//!
//! `/metrics` and `/services` tell an attacker what runs, which versions, and how loaded the
//! system is; `/openapi.json` tells a client only what it may call anyway, so it stays public.

mod services;

use std::sync::{Arc, LazyLock};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use axum::{Json, Router};
use serde_json::{Value, json};

use contract::AuthLevel;

use crate::config::OpsEndpoints;
use crate::error::ApiError;
use crate::openapi::ApiDocument;
use crate::schemas::SchemaCache;
use crate::state::AppState;

pub use services::services;

/// The routes the gateway serves on the API port; the `/docs` page's only when `docs` is on.
/// Every own path is `get`, which axum also answers for HEAD.
pub fn routes(docs: bool) -> Vec<(&'static str, MethodRouter<AppState>)> {
    let mut routes = vec![
        ("/livez", get(livez)),
        ("/healthz", get(livez)),
        ("/readyz", get(readyz)),
        ("/metrics", get(metrics_on_api)),
        ("/services", get(services_on_api)),
        ("/openapi.json", get(openapi_json)),
        (crate::events::PATH, get(crate::events::events)),
    ];
    if docs {
        routes.extend(crate::docs::routes());
    }
    routes
}

/// Whether the gateway serves `path` (a route template a service claims) itself: whether
/// the template, read as a path, reaches one of [`routes`], the `/docs` page's included
/// (whether it is on is configuration; who owns a path must not change with it).
pub fn is_reserved(path: &str) -> bool {
    static OWN: LazyLock<matchit::Router<()>> = LazyLock::new(|| {
        let mut own = matchit::Router::new();
        for (path, _) in routes(true) {
            // The templates are this module's constants, distinct and valid.
            let _ = own.insert(path, ());
        }
        own
    });
    OWN.at(path).is_ok()
}

/// Liveness: the process serves HTTP.
pub async fn livez() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: connected to NATS and a routing table is present.
pub async fn readyz(State(state): State<AppState>) -> Response {
    state.health.readyz_response().await
}

/// The operational routes served beside the health ones on the health listener.
pub fn ops_router(state: AppState) -> Router {
    Router::new()
        .route("/services", get(services))
        .with_state(state)
}

/// Whether the caller may see an operational endpoint on the API port: 404 as if it did not
/// exist when they are served only on the health listener; else 401/403 without the admin role.
async fn ops_allowed(state: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    if state.config.ops == OpsEndpoints::Health {
        return Err(ApiError::no_route().into_response());
    }
    match state.auth.authorize(headers, AuthLevel::Admin).await {
        Ok(_) => Ok(()),
        Err(refused) => Err(refused.into_response()),
    }
}

/// `/metrics` on the API port: 404 unless `OPS_ENDPOINTS` is `admin`, then only for a token
/// with the admin role.
pub async fn metrics_on_api(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match ops_allowed(&state, &headers).await {
        Ok(()) => state.health.metrics_response(),
        Err(refused) => refused,
    }
}

/// `/services` on the API port: 404 unless `OPS_ENDPOINTS` is `admin`, then only for a token
/// with the admin role.
pub async fn services_on_api(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match ops_allowed(&state, &headers).await {
        Ok(()) => services(State(state)).await,
        Err(refused) => refused,
    }
}

/// The OpenAPI document of the discovered routes, as discovery last built it, with a strong
/// `ETag`; a matching `If-None-Match` is answered 304 with no body.
pub async fn openapi_json(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let document = match state.catalog.snapshot() {
        Some(snapshot) => snapshot.openapi.clone(),
        None => Arc::new(ApiDocument::build(&[], &SchemaCache::default())),
    };
    let etag =
        HeaderValue::from_str(&document.etag).expect("a quoted hex digest is a valid header");
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag == document.etag
        });
    let cache = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    if matches {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let json = HeaderValue::from_static("application/json");
    (
        cache,
        [(header::CONTENT_TYPE, json)],
        document.bytes.clone(),
    )
        .into_response()
}
