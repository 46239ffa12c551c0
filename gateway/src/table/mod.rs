//! The routing table: every discovered endpoint's HTTP mapping, with conflicts resolved.
//!
//! A table is built in one go from the instances discovery currently sees and then swapped in
//! whole, so a request always matches against one consistent table. Building is a pure
//! function of its input, which keeps conflict resolution deterministic and testable:
//!
//! - a service may claim only paths under its own route prefixes ([`RouteOwners`], declared in
//!   the stack), on subjects under its own name; any other claim is refused and reported,
//!   never served, so no service can take over another's routes or change their auth level;
//! - every instance of a service serves the same subjects (queue group `q`), so claims of
//!   one method and path on one subject are one route, described by the newest version;
//! - two subjects of one service claiming one method and path conflict: the highest semver
//!   wins, then the smaller subject. The losers are reported;
//! - the gateway's own paths (`/healthz`, `/metrics`, `/docs/{asset}`, …: the routes it mounts,
//!   [`crate::own::routes`]) are never given to a service;
//! - endpoints with no HTTP mapping are internal and not routed; endpoints with an invalid
//!   mapping are reported.
//!
//! `claims.rs` resolves the claims, `matcher.rs` matches request paths, `route.rs` holds the
//! types both report.

mod claims;
mod matcher;
mod route;

use std::collections::BTreeSet;

use contract::routes::RouteOwners;
use runtime::discover::ServiceInfo;

pub use matcher::Match;
pub use route::{Conflict, InvalidEndpoint, Refused, Route};

/// The routing table.
#[derive(Debug, Default, Clone)]
pub struct RouteTable {
    /// Every route, sorted by method then path.
    routes: Vec<Route>,
    /// The path router over `routes`.
    matcher: matcher::Matcher,
    /// Conflicts found while building.
    conflicts: Vec<Conflict>,
    /// Endpoints left out because of bad metadata.
    invalid: Vec<InvalidEndpoint>,
    /// Claims refused: the service does not own the path or the subject.
    refused: Vec<Refused>,
}

impl RouteTable {
    /// Builds the table from every instance discovery sees, routing only the claims each
    /// service may make under `owners`.
    pub fn build(instances: &[ServiceInfo], owners: &RouteOwners) -> Self {
        let resolved = claims::resolve(instances, owners);
        Self {
            matcher: matcher::Matcher::new(&resolved.routes),
            routes: resolved.routes,
            conflicts: resolved.conflicts,
            invalid: resolved.invalid,
            refused: resolved.refused,
        }
    }

    /// Claims refused because their service does not own the path or the subject.
    pub fn refused(&self) -> &[Refused] {
        &self.refused
    }

    /// Every route, sorted by method then path.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Conflicts resolved while building.
    pub fn conflicts(&self) -> &[Conflict] {
        &self.conflicts
    }

    /// Endpoints left out because of invalid metadata.
    pub fn invalid(&self) -> &[InvalidEndpoint] {
        &self.invalid
    }

    /// Resolves a request. The most specific template matching the path decides: a literal
    /// segment beats a parameter, so `/products/search` is never read as `/products/{id}`.
    pub fn find(&self, method: &http::Method, path: &str) -> Match<'_> {
        self.matcher.find(&self.routes, method, path)
    }

    /// The distinct services routed, for metrics.
    pub fn services(&self) -> BTreeSet<&str> {
        self.routes.iter().map(|r| r.service.as_str()).collect()
    }
}

#[cfg(test)]
mod tests;
