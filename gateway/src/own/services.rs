//! `/services`: what discovery sees (services, versions, instances, endpoints) and what the
//! routing table made of it (routes, conflicts, invalid endpoints, refused claims), as typed
//! views of the current snapshot.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use contract::ErrorCode;
use serde::Serialize;

use crate::discovery::{Instance, Snapshot};
use crate::error::ApiError;
use crate::state::AppState;
use crate::table::{Conflict, InvalidEndpoint, Refused, Route};
use crate::version::Version;

/// The whole `/services` body.
#[derive(Debug, Serialize)]
struct Services<'a> {
    /// The snapshot's generation.
    generation: u64,
    /// Unix time the snapshot was taken.
    discovered_at: u64,
    services: Vec<Service<'a>>,
    routes: &'a [Route],
    conflicts: &'a [Conflict],
    invalid_endpoints: &'a [InvalidEndpoint],
    refused_claims: &'a [Refused],
}

/// One service: every version and instance seen, and the endpoints of its newest version.
#[derive(Debug, Serialize)]
struct Service<'a> {
    name: &'a str,
    /// In the order the instances (by id) first show them.
    versions: Vec<&'a str>,
    instances: Vec<InstanceView<'a>>,
    endpoints: Vec<Endpoint<'a>>,
}

#[derive(Debug, Serialize)]
struct InstanceView<'a> {
    id: &'a str,
    version: &'a str,
    last_seen_seconds_ago: f64,
    missed_polls: u32,
}

#[derive(Debug, Serialize)]
struct Endpoint<'a> {
    name: &'a str,
    subject: &'a str,
    metadata: &'a HashMap<String, String>,
    /// Whether the routing table routes its subject.
    routed: bool,
}

/// The `/services` handler: 503 until discovery has finished once.
pub async fn services(State(state): State<AppState>) -> Response {
    let Some(snapshot) = state.catalog.snapshot() else {
        return ApiError::new(ErrorCode::Unavailable, "discovery has not finished yet")
            .into_response();
    };
    Json(view(&snapshot, SystemTime::now())).into_response()
}

fn view(snapshot: &Snapshot, now: SystemTime) -> Services<'_> {
    let seconds_since = |t: SystemTime| now.duration_since(t).map_or(0.0, |d| d.as_secs_f64());
    let routed: BTreeMap<&str, &Route> = snapshot
        .table
        .routes()
        .iter()
        .map(|r| (r.subject.as_str(), r))
        .collect();
    // Instances in id order, grouped by service name.
    let mut by_name: BTreeMap<&str, Vec<&Instance>> = BTreeMap::new();
    for instance in snapshot.instances.values() {
        by_name
            .entry(&instance.info.name)
            .or_default()
            .push(instance);
    }
    let services = by_name
        .into_iter()
        .map(|(name, instances)| {
            let mut versions: Vec<&str> = Vec::new();
            for instance in &instances {
                if !versions.contains(&instance.info.version.as_str()) {
                    versions.push(&instance.info.version);
                }
            }
            // The first of the highest version describes the endpoints.
            let newest = instances
                .iter()
                .fold(None::<&Instance>, |best, i| match best {
                    Some(b)
                        if Version::parse(&b.info.version) >= Version::parse(&i.info.version) =>
                    {
                        Some(b)
                    }
                    _ => Some(i),
                });
            let endpoints = newest
                .map(|n| {
                    n.info
                        .endpoints
                        .iter()
                        .map(|e| Endpoint {
                            name: &e.name,
                            subject: &e.subject,
                            metadata: &e.metadata,
                            routed: routed.contains_key(e.subject.as_str()),
                        })
                        .collect()
                })
                .unwrap_or_default();
            Service {
                name,
                versions,
                instances: instances
                    .iter()
                    .map(|i| InstanceView {
                        id: &i.info.id,
                        version: &i.info.version,
                        last_seen_seconds_ago: seconds_since(i.last_seen),
                        missed_polls: i.missed,
                    })
                    .collect(),
                endpoints,
            }
        })
        .collect();
    Services {
        generation: snapshot.generation,
        discovered_at: snapshot
            .at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        services,
        routes: snapshot.table.routes(),
        conflicts: snapshot.table.conflicts(),
        invalid_endpoints: snapshot.table.invalid(),
        refused_claims: snapshot.table.refused(),
    }
}
