//! The bare proxy: the least a gateway can be. `GET /echo` becomes the envelope the gateway
//! sends (no path parameters, the query, a null body), one request over NATS through
//! `runtime::Requester` with the caller headers the gateway sets, and the reply's bytes as the
//! answer. No token check, routing table, limits, metrics, logs or spans.
//!
//! Driven by the same load generator in the same run as the gateway, its CPU per request is
//! what HTTP plus one NATS request costs on this machine with these crates, and its share of
//! direct NATS throughput the most any gateway built on them keeps here: the measured
//! counterpart of [`crate::bound`]'s sum. It runs as its own process (`bench serve-proxy`,
//! see [`crate::served`]).

use std::sync::Arc;

use anyhow::Context;
use async_nats::HeaderMap;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use contract::Envelope;
use runtime::{CallOptions, Requester, header_names};

use crate::cli::ProxyArgs;
use crate::echo::Params;
use crate::served::{self, Served};

const WHAT: &str = "bare proxy";

struct Proxy {
    requester: Requester,
    subject: String,
    user_id: String,
    roles: String,
}

async fn echo(State(proxy): State<Arc<Proxy>>, Query(query): Query<Params>) -> Response {
    let envelope = Envelope::new(Params::new(), query, serde_json::Value::Null);
    let Ok(payload) = serde_json::to_vec(&envelope) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut headers = HeaderMap::new();
    headers.insert(header_names::USER_ID, proxy.user_id.as_str());
    headers.insert(header_names::ROLES, proxy.roles.as_str());
    let options = CallOptions {
        headers,
        ..CallOptions::default()
    };
    match proxy
        .requester
        .request(&proxy.subject, payload.into(), options)
        .await
    {
        Ok(reply) if runtime::call::error_of(&reply).is_none() => {
            ([(header::CONTENT_TYPE, "application/json")], reply.payload).into_response()
        }
        Ok(_) | Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// Serves `GET /echo` on a free loopback port, relaying to the echo service, until killed.
pub async fn serve(args: ProxyArgs) -> anyhow::Result<()> {
    let client = async_nats::connect(&args.nats_url)
        .await
        .context("the bare proxy cannot connect to NATS")?;
    let proxy = Proxy {
        requester: Requester::new(client).await?,
        subject: args.subject,
        user_id: args.user_id,
        roles: args.roles,
    };
    let listener = served::bind_and_announce(WHAT).await?;
    let app = axum::Router::new()
        .route("/echo", get(echo))
        .with_state(Arc::new(proxy));
    axum::serve(listener, app)
        .await
        .context("bare proxy failed")
}

/// Starts the bare proxy as `bench serve-proxy`, relaying to `subject` on the NATS server at
/// `nats_url` as the caller `user_id` with `roles` (the header's form).
pub async fn start(
    nats_url: &str,
    subject: &str,
    user_id: &str,
    roles: &str,
) -> anyhow::Result<Served> {
    let args = [
        "serve-proxy",
        "--nats-url",
        nats_url,
        "--subject",
        subject,
        "--user-id",
        user_id,
        "--roles",
        roles,
    ]
    .map(str::to_owned);
    Served::start(WHAT, &args).await
}
