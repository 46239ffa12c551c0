//! The gateway's own endpoints: `/healthz`, `/readyz`, `/openapi.json` on the API port;
//! `/metrics` and `/services` on the health listener ([`ops_router`]), and on the API port
//! only when [`OpsEndpoints::Admin`] allows it, to the admin role.
//!
//! [`routes`] lists every one of them, once: the gateway mounts that list, and the routing
//! table refuses a service's claim on any path in it ([`is_reserved`]), so a service can never
//! be listed as routed on a path the gateway answers itself.
//!
//! `/metrics` and `/services` tell an attacker what runs, which versions, and how loaded the
//! system is; `/openapi.json` tells a client only what it may call anyway, so it stays public.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};
use std::time::SystemTime;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use axum::{Json, Router};
use serde_json::{Value, json};

use contract::{AuthLevel, ErrorCode};

use crate::config::OpsEndpoints;
use crate::error::ApiError;
use crate::openapi::ApiDocument;
use crate::schemas::SchemaCache;
use crate::state::AppState;

/// The routes the gateway serves on the API port; the `/docs` page's only when `docs` is on.
/// Every own path is `get`, which axum also answers for HEAD.
pub fn routes(docs: bool) -> Vec<(&'static str, MethodRouter<AppState>)> {
    let mut routes = vec![
        ("/healthz", get(healthz)),
        ("/readyz", get(readyz)),
        ("/metrics", get(metrics_on_api)),
        ("/services", get(services_on_api)),
        ("/openapi.json", get(openapi_json)),
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
pub async fn healthz() -> Json<Value> {
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

/// `/metrics` on the API port (see [`ops_allowed`]).
pub async fn metrics_on_api(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match ops_allowed(&state, &headers).await {
        Ok(()) => state.health.metrics_response(),
        Err(refused) => refused,
    }
}

/// `/services` on the API port (see [`ops_allowed`]).
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

/// What discovery sees: services, versions, instances, endpoints, conflicts, refused claims.
pub async fn services(State(state): State<AppState>) -> Response {
    let Some(snapshot) = state.catalog.snapshot() else {
        return ApiError::new(ErrorCode::Unavailable, "discovery has not finished yet")
            .into_response();
    };
    let mut services: BTreeMap<&str, Value> = BTreeMap::new();
    // Instances in id order; for each service, describe its endpoints from its newest version.
    let mut newest: BTreeMap<&str, &crate::discovery::Instance> = BTreeMap::new();
    for instance in snapshot.instances.values() {
        let name = instance.info.name.as_str();
        let entry = services.entry(name).or_insert_with(
            || json!({ "name": name, "versions": [], "instances": [], "endpoints": [] }),
        );
        let age = |t: SystemTime| {
            SystemTime::now()
                .duration_since(t)
                .map_or(0.0, |d| d.as_secs_f64())
        };
        entry["instances"]
            .as_array_mut()
            .expect("instances is an array")
            .push(json!({
                "id": instance.info.id,
                "version": instance.info.version,
                "last_seen_seconds_ago": age(instance.last_seen),
                "missed_polls": instance.missed,
            }));
        let versions = entry["versions"]
            .as_array_mut()
            .expect("versions is an array");
        let version = json!(instance.info.version);
        if !versions.contains(&version) {
            versions.push(version);
        }
        let is_newer = newest.get(name).is_none_or(|n| {
            crate::version::Version::parse(&n.info.version)
                < crate::version::Version::parse(&instance.info.version)
        });
        if is_newer {
            newest.insert(name, instance);
        }
    }
    let routed: BTreeMap<&str, &crate::table::Route> = snapshot
        .table
        .routes()
        .iter()
        .map(|r| (r.subject.as_str(), r))
        .collect();
    for (name, instance) in newest {
        let endpoints: Vec<Value> = instance
            .info
            .endpoints
            .iter()
            .map(|e| {
                json!({
                    "name": e.name,
                    "subject": e.subject,
                    "metadata": e.metadata,
                    "routed": routed.contains_key(e.subject.as_str()),
                })
            })
            .collect();
        services
            .get_mut(name)
            .expect("every newest instance has an entry")["endpoints"] = json!(endpoints);
    }
    let body = json!({
        "generation": snapshot.generation,
        "discovered_at": snapshot
            .at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        "services": services.into_values().collect::<Vec<_>>(),
        "routes": snapshot.table.routes(),
        "conflicts": snapshot.table.conflicts(),
        "invalid_endpoints": snapshot.table.invalid(),
        "refused_claims": snapshot.table.refused(),
    });
    Json(body).into_response()
}
