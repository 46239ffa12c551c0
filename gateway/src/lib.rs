//! The natstack HTTP gateway: the front door that knows no service address and no route in
//! code.
//!
//! - [`discovery`] polls the NATS Services API (`$SRV.INFO`) and swaps in a fresh
//!   [`table::RouteTable`] built from every endpoint's metadata;
//! - [`proxy`] serves each request: match, [`auth`] (JWT against the [`jwks`] cache and the
//!   [`revoked`] list), the envelope, one NATS request with a deadline (sent again in the
//!   cases [`retry`] allows), and the reply mapped to HTTP, within the rate limits and
//!   in-flight budget of [`limit`]; [`idempotency`] checks and forwards a write's
//!   `Idempotency-Key`;
//! - [`router`] lists every layer a request passes, in order: its [`request_id`], the
//!   [`observe`] span, access log and [`metrics`], the [`client`] address, the [`refusals`]
//!   (401/403/429 answers summed per client address into a few log lines), CORS and
//!   [`admission`]; [`error`] gives gateway and service errors one JSON shape;
//! - [`server`] accepts connections and serves them over HTTP/1.1 within its limits (with
//!   [`addr_cap`] per client address); [`admission`] refuses malformed heads and bodies a
//!   route does not take, and holds request bodies within one budget;
//! - [`events`] streams domain events to clients (`GET /events`, Server-Sent Events);
//! - [`own`] serves `/livez` (alias `/healthz`), `/readyz` and `/openapi.json` on the API
//!   port, and the operational `/metrics` and `/services` on the health listener (with
//!   `/livez` and `/readyz`), or on the API port too for the admin role
//!   ([`config::OpsEndpoints`]).
//!   The [`openapi`] document is assembled from the routes and the [`schemas`] services publish.
//!
//! [`run`] takes its listeners and a shutdown future, so tests run the real server in-process.

pub mod addr_cap;
pub mod admission;
pub mod auth;
pub mod client;
pub mod config;
pub mod discovery;
pub mod docs;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod jwks;
pub mod limit;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod own;
pub mod proxy;
pub mod refusals;
pub mod request_id;
pub mod retry;
pub mod revoked;
pub mod schemas;
pub mod server;
pub mod state;
pub mod table;
pub mod token_cache;
pub mod version;

use std::future::{Future, IntoFuture};
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, Method, header};
use axum::middleware::from_fn_with_state;
use futures::FutureExt;
use prometheus_client::registry::Registry;
use runtime::health::Probes;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower::util::MapRequestLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::info;

pub use config::{Cli, Config, Cors, OpsEndpoints};

use crate::discovery::Catalog;
use crate::error::ApiError;
use crate::jwks::JwksCache;
use crate::metrics::GatewayMetrics;
use crate::state::{AppState, Shared};

/// Why the gateway stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// NATS could not be set up.
    #[error(transparent)]
    Connect(#[from] runtime::connect::ConnectError),
    /// The reply inbox could not be subscribed.
    #[error("cannot set up request-reply: {0}")]
    Caller(#[from] runtime::CallError),
    /// Serving HTTP failed.
    #[error("HTTP server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the gateway: the API on `listener`, `/livez`, `/readyz`, `/metrics` and `/services`
/// on `health_listener`, until `shutdown` resolves; then finishes in-flight requests and returns.
pub async fn run(
    config: Config,
    listener: TcpListener,
    health_listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let shutdown = shutdown.boxed().shared();
    let client = runtime::connect::connect(&config.nats, contract::deploy::GATEWAY, false).await?;
    let requester = runtime::Requester::new(client.clone()).await?;

    let mut registry = Registry::default();
    let metrics = GatewayMetrics::new(&mut registry);
    let events = events::Events::new(&config.events, &mut registry);
    let provisioning = tokio::spawn(events::provision::run(
        client.clone(),
        config.events.stream,
        events.ready.clone(),
        shutdown.clone(),
    ));
    let catalog = Arc::new(Catalog::new(config.discovery.trigger_throttle));
    let health = Probes::new(registry)
        .nats(client.clone())
        .check("routing_table", {
            let catalog = catalog.clone();
            move || {
                let ready = catalog.snapshot().is_some();
                async move {
                    if ready {
                        Ok(())
                    } else {
                        Err("no routing table yet".to_owned())
                    }
                }
            }
        });
    let jwks = JwksCache::new(requester.clone(), config.jwks, metrics.clone());
    let revoked = revoked::Revoked::default();
    let revocations = tokio::spawn(revoked::run(
        requester.clone(),
        revoked.clone(),
        config.revoked,
        shutdown.clone(),
    ));
    let auth = auth::Authenticator::new(
        &config.jwt_issuer,
        &config.jwt_audience,
        jwks,
        config.token_cache_size,
        revoked,
    );
    let state = AppState(Arc::new(Shared {
        config: config.clone(),
        catalog: catalog.clone(),
        upstream: retry::Upstream::new(requester.clone(), config.request_timeout, metrics.clone()),
        requester,
        auth,
        metrics: metrics.clone(),
        health: health.clone(),
        limits: limit::Guard::new(&config.limits),
        refusals: refusals::Refusals::default(),
        body_budget: admission::BodyBudget::new(config.body_budget_bytes),
        server_errors: Default::default(),
        events,
    }));

    let discovery = tokio::spawn(discovery::run(
        client.clone(),
        catalog,
        config.discovery.clone(),
        metrics,
        shutdown.clone(),
    ));
    let ops = health.router().merge(own::ops_router(state.clone()));
    tracing::info!(addr = %health_listener.local_addr()?, "health server listening");
    let health_server = tokio::spawn(
        axum::serve(health_listener, ops)
            .with_graceful_shutdown(shutdown.clone())
            .into_future(),
    );

    // Open event streams end at shutdown; the server then finishes their responses.
    let stop_events = tokio::spawn({
        let shutdown = shutdown.clone();
        let state = state.clone();
        async move {
            shutdown.await;
            let _ = state.events.stop.send(true);
        }
    });
    info!(addr = %listener.local_addr()?, "gateway listening");
    let app = router(state);
    let trusted = &config.limits.trusted_proxies;
    server::serve(listener, app, &config.server, trusted, shutdown).await?;
    info!("HTTP server stopped; in-flight requests finished");

    // Both watch the same shutdown signal; they end promptly.
    let _ = discovery.await;
    let _ = revocations.await;
    let _ = provisioning.await;
    let _ = stop_events.await;
    if let Ok(Err(e)) = health_server.await {
        tracing::warn!(error = %e, "health server failed");
    }
    runtime::connect::flush(&client).await;
    Ok(())
}

/// The gateway's router: its own endpoints ([`own::routes`]), every other path proxied, and
/// every layer a request passes, outermost first. What the layers share lives in [`AppState`];
/// only per-request values travel in extensions: the request id, the route match (axum's
/// matched path, or the proxy's [`observe::RouteLabel`] on the response), the service error
/// parked for [`error::render`], and the [`client::ClientAddr`], which comes from the
/// connection and so cannot live in any shared state.
pub fn router(state: AppState) -> Router {
    let routes = own::routes(state.config.docs)
        .into_iter()
        .fold(Router::new(), |app, (path, route)| app.route(path, route))
        .fallback(proxy::proxy)
        // Every own path is `get`, which axum also answers for HEAD.
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed_with("GET, HEAD") });
    let layers = ServiceBuilder::new()
        // Every request gets an id (a client's own one only when it is well-formed), echoed
        // in the response.
        .layer(MapRequestLayer::new(request_id::drop_invalid))
        .layer(SetRequestIdLayer::new(request_id::HEADER, MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(request_id::HEADER))
        // The request's span, a child of the client's `traceparent`.
        .layer(observe::span::layer())
        // Route, metrics, access log and error bodies, once the response is ready: around
        // everything below, so every refusal is counted, logged and rendered.
        .layer(from_fn_with_state(state.clone(), observe::finish))
        // The client address, resolved once for the refusals, the rate limits and services.
        .layer(from_fn_with_state(state.clone(), client::resolve))
        // 401/403/429 floods summed per client address (the access log has them at DEBUG).
        .layer(from_fn_with_state(state.clone(), refusals::watch))
        .option_layer(cors_layer(&state.config.cors))
        // Inside CORS, so its refusals carry CORS headers; around every route.
        .layer(from_fn_with_state(state.clone(), admission::admit));
    routes.layer(layers).with_state(state)
}

fn cors_layer(cors: &Cors) -> Option<CorsLayer> {
    let origins = match cors {
        Cors::Off => return None,
        Cors::Any => AllowOrigin::any(),
        Cors::Origins(list) => AllowOrigin::list(
            list.iter()
                .filter_map(|o| o.parse().ok())
                .collect::<Vec<_>>(),
        ),
    };
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static(contract::headers::REQUEST_ID),
                HeaderName::from_static(contract::headers::TRACEPARENT),
                HeaderName::from_static(contract::headers::TRACESTATE),
                HeaderName::from_static(contract::headers::IDEMPOTENCY_KEY),
            ])
            .expose_headers([
                HeaderName::from_static(contract::headers::REQUEST_ID),
                header::RETRY_AFTER,
                header::ALLOW,
                HeaderName::from_static(contract::headers::IDEMPOTENT_REPLAYED),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}
