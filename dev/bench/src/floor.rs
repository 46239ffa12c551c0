//! The floor: a bare axum server answering `GET /echo` with the same bytes as the echo
//! service through the gateway (the query parameters as a JSON object), with no NATS hop, no
//! token check and no middleware. Driven by the same load generator in the same run, its CPU
//! per request is what HTTP handling alone costs on this machine, the least the gateway could
//! spend.
//!
//! It runs as its own process (`bench serve-floor`, see [`crate::served`]).

use anyhow::Context;
use axum::Json;
use axum::extract::Query;
use axum::routing::get;

use crate::echo::Params;
use crate::served::{self, Served};

const WHAT: &str = "floor server";

async fn echo(Query(params): Query<Params>) -> Json<Params> {
    Json(params)
}

/// Serves `GET /echo` on a free loopback port until killed.
pub async fn serve() -> anyhow::Result<()> {
    let listener = served::bind_and_announce(WHAT).await?;
    let app = axum::Router::new().route("/echo", get(echo));
    axum::serve(listener, app)
        .await
        .context("floor server failed")
}

/// Starts the floor server as `bench serve-floor`.
pub async fn start() -> anyhow::Result<Served> {
    Served::start(WHAT, &["serve-floor".to_owned()]).await
}
