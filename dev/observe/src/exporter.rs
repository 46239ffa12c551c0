//! A stand-in for prometheus-nats-exporter, which a cluster runs beside every NATS server
//! (the operator's sidecar) but this machine does not have: it reads nats-server's monitoring
//! endpoints `/varz` and `/routez` on each scrape and serves what the exporter derives from
//! them, under the exporter's names: every number at the top of `/varz` as
//! `gnatsd_varz_<field>`, `num_routes` of `/routez` as `gnatsd_routez_num_routes`, each
//! labelled `server_id` (the exporter's `-use_internal_server_id`).

use std::fmt::Write as _;
use std::net::SocketAddr;

use anyhow::{Context as _, Result};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::Value;

/// What the real exporter serves and this stand-in does not, printed at start.
pub const NOT_HONOURED: [&str; 4] = [
    "gnatsd_connz_*, gnatsd_subz_*, gnatsd_healthz_*, jetstream_*: only /varz and /routez are read",
    "nested /varz objects (gnatsd_varz_jetstream_*, per-cluster and gateway fields) and per-route gnatsd_routez_* series",
    "the exporter's own series (gnatsd_exporter_*)",
    "HELP and TYPE lines: every series is served untyped",
];

/// Serves the stand-in's `/metrics` on `listener` for the nats-server monitored at
/// `monitor`, until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, monitor: SocketAddr) -> Result<()> {
    let app = Router::new()
        .route(contract::deploy::METRICS_PATH, get(metrics))
        .with_state(monitor);
    axum::serve(listener, app)
        .await
        .context("the NATS exporter stand-in stopped")
}

async fn metrics(State(monitor): State<SocketAddr>) -> Result<String, StatusCode> {
    let varz = read(monitor, "/varz").await?;
    let routez = read(monitor, "/routez").await?;
    Ok(render(&varz, &routez))
}

async fn read(monitor: SocketAddr, path: &str) -> Result<Value, StatusCode> {
    let (status, body) = testbed::http::get(monitor, path).await;
    if status != 200 {
        // The exporter answers its scrape with an error when the server does not answer.
        return Err(StatusCode::BAD_GATEWAY);
    }
    serde_json::from_str(&body).map_err(|_| StatusCode::BAD_GATEWAY)
}

/// The exposition of `varz` and `routez`.
pub fn render(varz: &Value, routez: &Value) -> String {
    let id = varz["server_id"].as_str().unwrap_or_default();
    let mut out = String::new();
    if let Some(fields) = varz.as_object() {
        for (name, value) in fields {
            if let Some(n) = value.as_f64() {
                let _ = writeln!(out, "gnatsd_varz_{name}{{server_id=\"{id}\"}} {n}");
            }
        }
    }
    if let Some(n) = routez["num_routes"].as_f64() {
        let _ = writeln!(out, "gnatsd_routez_num_routes{{server_id=\"{id}\"}} {n}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_of_varz_and_the_route_count_are_served_under_the_exporters_names() {
        let varz = serde_json::json!({
            "server_id": "N1", "connections": 4, "slow_consumers": 0, "routes": 2,
            "version": "2.10", "jetstream": {"memory": 1},
        });
        let routez = serde_json::json!({"num_routes": 2, "routes": []});
        let text = render(&varz, &routez);
        assert!(
            text.contains("gnatsd_varz_connections{server_id=\"N1\"} 4"),
            "{text}"
        );
        assert!(
            text.contains("gnatsd_varz_slow_consumers{server_id=\"N1\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("gnatsd_routez_num_routes{server_id=\"N1\"} 2"),
            "{text}"
        );
        assert!(
            !text.contains("version") && !text.contains("jetstream"),
            "{text}"
        );
    }
}
