//! Turning every instance's endpoint claims into routes, conflicts and invalid endpoints.
//!
//! A pure function of its input, so conflict resolution is deterministic whatever order
//! discovery heard the instances in.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use contract::{EndpointMeta, HttpMethod, metadata};
use runtime::discover::ServiceInfo;

use super::RESERVED_PATHS;
use super::route::{Conflict, InvalidEndpoint, Route};
use crate::version::Version;

/// What resolving the claims gives.
pub(super) struct Resolved {
    /// The winning routes, sorted by method then path.
    pub routes: Vec<Route>,
    /// Every method and path more than one subject (or the gateway) claimed.
    pub conflicts: Vec<Conflict>,
    /// Endpoints left out because of bad metadata.
    pub invalid: Vec<InvalidEndpoint>,
}

/// One claim of a method and path by one subject.
struct Claim {
    route: Route,
    version: Version,
}

impl Claim {
    fn label(&self) -> String {
        format!(
            "{}@{} ({})",
            self.route.service, self.route.version, self.route.subject
        )
    }

    /// Orders claims best first: highest version, then smallest service name, then subject.
    fn rank(&self, other: &Self) -> Ordering {
        other
            .version
            .cmp(&self.version)
            .then_with(|| self.route.service.cmp(&other.route.service))
            .then_with(|| self.route.subject.cmp(&other.route.subject))
    }
}

/// Resolves every endpoint claim of `instances`.
pub(super) fn resolve(instances: &[ServiceInfo]) -> Resolved {
    // (method, path) → subject → best claim for that subject.
    let mut claims: BTreeMap<(HttpMethod, String), BTreeMap<String, Claim>> = BTreeMap::new();
    let mut invalid = BTreeMap::new();
    for info in instances {
        let version = Version::parse(&info.version);
        for endpoint in &info.endpoints {
            let has_mapping = endpoint.metadata.contains_key(metadata::HTTP_METHOD)
                || endpoint.metadata.contains_key(metadata::HTTP_PATH);
            let is_schema = endpoint.metadata.get(metadata::KIND).map(String::as_str)
                == Some(metadata::KIND_SCHEMA);
            if !has_mapping || is_schema {
                continue; // An internal endpoint, callable over NATS only.
            }
            let meta = match EndpointMeta::from_metadata(&endpoint.metadata) {
                Ok(meta) => meta,
                Err(e) => {
                    invalid.insert((info.name.clone(), endpoint.subject.clone()), e.to_string());
                    continue;
                }
            };
            let claim = Claim {
                route: Route {
                    method: meta.method,
                    path: meta.path.into(),
                    auth: meta.auth,
                    success_status: meta.success_status,
                    summary: meta.summary,
                    subject: endpoint.subject.clone(),
                    service: info.name.clone(),
                    version: info.version.clone(),
                    endpoint: endpoint.name.clone(),
                    schema_hash: endpoint.metadata.get(metadata::SCHEMA_HASH).cloned(),
                },
                version: version.clone(),
            };
            let by_subject = claims
                .entry((claim.route.method, claim.route.path.to_string()))
                .or_default();
            match by_subject.get(&endpoint.subject) {
                // Instances of one subject: the newest describes the route.
                Some(existing) if existing.rank(&claim) != Ordering::Greater => {}
                _ => {
                    by_subject.insert(endpoint.subject.clone(), claim);
                }
            }
        }
    }

    let mut routes = Vec::new();
    let mut conflicts = Vec::new();
    for ((method, path), by_subject) in claims {
        let mut ranked: Vec<Claim> = by_subject.into_values().collect();
        ranked.sort_by(Claim::rank);
        if RESERVED_PATHS.contains(&path.as_str()) {
            conflicts.push(Conflict {
                method,
                path,
                winner: "gateway".to_owned(),
                losers: ranked.iter().map(Claim::label).collect(),
            });
            continue;
        }
        let mut ranked = ranked.into_iter();
        let Some(winner) = ranked.next() else {
            continue;
        };
        let losers: Vec<String> = ranked.map(|c| c.label()).collect();
        if !losers.is_empty() {
            conflicts.push(Conflict {
                method,
                path,
                winner: winner.label(),
                losers,
            });
        }
        routes.push(winner.route);
    }

    Resolved {
        routes,
        conflicts,
        invalid: invalid
            .into_iter()
            .map(|((service, subject), reason)| InvalidEndpoint {
                service,
                subject,
                reason,
            })
            .collect(),
    }
}
