//! Turning every instance's endpoint claims into routes, refusals, conflicts and invalid
//! endpoints.
//!
//! A claim is routed only when its service owns its path ([`RouteOwners`]) and serves it on a
//! subject under its own name (`<service>.…`), which NATS lets only that service's user
//! subscribe. Everything else is refused and reported, never served: so two services never
//! compete for a path, and a version number decides nothing between them. Within one service,
//! two subjects claiming one method and path (a rolling upgrade that moved a route) are a
//! conflict the newest version wins.
//!
//! A pure function of its input, so resolution is deterministic whatever order discovery
//! heard the instances in.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use contract::routes::RouteOwners;
use contract::{EndpointMeta, HttpMethod, metadata};
use runtime::discover::ServiceInfo;

use super::route::{Conflict, InvalidEndpoint, Refused, Route};
use crate::version::Version;

/// What resolving the claims gives.
pub(super) struct Resolved {
    /// The winning routes, sorted by method then path.
    pub routes: Vec<Route>,
    /// Every method and path more than one subject (or the gateway) claimed.
    pub conflicts: Vec<Conflict>,
    /// Endpoints left out because of bad metadata.
    pub invalid: Vec<InvalidEndpoint>,
    /// Claims refused because the service does not own the path or the subject.
    pub refused: Vec<Refused>,
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

    /// Orders one service's claims best first: highest version, then smallest subject (the
    /// service name breaks ties only for determinism: claims of two services never meet).
    fn rank(&self, other: &Self) -> Ordering {
        other
            .version
            .cmp(&self.version)
            .then_with(|| self.route.service.cmp(&other.route.service))
            .then_with(|| self.route.subject.cmp(&other.route.subject))
    }
}

/// Why `service` may not serve `path` on `subject`, if it may not.
fn refusal(owners: &RouteOwners, service: &str, subject: &str, path: &str) -> Option<String> {
    let own_subject = subject
        .strip_prefix(service)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .split('.')
                    .all(|t| !t.is_empty() && t != "*" && t != ">")
                && !rest.contains(char::is_whitespace)
        });
    if !own_subject {
        return Some(format!(
            "subject {subject} is not under the service's own name ({service}.…)"
        ));
    }
    if crate::own::is_reserved(path) {
        return Some(format!("the gateway serves {path} itself"));
    }
    match owners.owner_of(path) {
        Some(owner) if owner == service => None,
        Some(owner) => Some(format!("{path} belongs to {owner}")),
        None => Some(format!(
            "{path} is under no prefix of {service} (its route prefixes: {})",
            owners.prefixes(service).map_or_else(
                || "none: the stack does not declare it".to_owned(),
                |p| p.join(", ")
            )
        )),
    }
}

/// Resolves every endpoint claim of `instances` against the declared `owners`.
pub(super) fn resolve(instances: &[ServiceInfo], owners: &RouteOwners) -> Resolved {
    // (method, path) → subject → best claim for that subject.
    let mut claims: BTreeMap<(HttpMethod, String), BTreeMap<String, Claim>> = BTreeMap::new();
    let mut invalid = BTreeMap::new();
    let mut refused = BTreeMap::new();
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
            if let Some(reason) = refusal(owners, &info.name, &endpoint.subject, &meta.path) {
                refused.insert(
                    (
                        info.name.clone(),
                        endpoint.subject.clone(),
                        meta.method,
                        meta.path,
                    ),
                    reason,
                );
                continue;
            }
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
        refused: refused
            .into_iter()
            .map(|((service, subject, method, path), reason)| Refused {
                service,
                subject,
                method,
                path,
                reason,
            })
            .collect(),
    }
}
