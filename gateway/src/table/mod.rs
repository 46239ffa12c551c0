//! The routing table: every discovered endpoint's HTTP mapping, with conflicts resolved.
//!
//! A table is built in one go from the instances discovery currently sees and then swapped in
//! whole, so a request always matches against one consistent table. Building is a pure
//! function of its input, which keeps conflict resolution deterministic and testable:
//!
//! - every instance of a service serves the same subjects (queue group `q`), so claims of
//!   one method and path on one subject are one route, described by the newest version;
//! - two different subjects claiming one method and path conflict: the highest semver wins,
//!   then the smaller service name, then the smaller subject. The losers are reported;
//! - the gateway's own paths (`/healthz`, `/metrics`, …) are never given to a service;
//! - endpoints with no HTTP mapping are internal and not routed; endpoints with an invalid
//!   mapping are reported.
//!
//! [`claims`] resolves the claims, [`matcher`] matches request paths, [`route`] holds the
//! types both report.

mod claims;
mod matcher;
mod route;

use std::collections::BTreeSet;

use runtime::discover::ServiceInfo;

pub use matcher::Match;
pub use route::{Conflict, InvalidEndpoint, Route};

/// Paths the gateway serves itself.
pub const RESERVED_PATHS: [&str; 5] = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/services",
];

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
}

impl RouteTable {
    /// Builds the table from every instance discovery sees.
    pub fn build(instances: &[ServiceInfo]) -> Self {
        let resolved = claims::resolve(instances);
        Self {
            matcher: matcher::Matcher::new(&resolved.routes),
            routes: resolved.routes,
            conflicts: resolved.conflicts,
            invalid: resolved.invalid,
        }
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
mod tests {
    use std::collections::HashMap;

    use contract::{AuthLevel, HttpMethod};
    use runtime::discover::EndpointInfo;

    use super::*;

    fn endpoint(subject: &str, method: &str, path: &str, auth: &str) -> EndpointInfo {
        EndpointInfo {
            name: subject.rsplit('.').next().unwrap().to_owned(),
            subject: subject.to_owned(),
            queue_group: Some("q".into()),
            metadata: HashMap::from([
                ("http.method".to_owned(), method.to_owned()),
                ("http.path".to_owned(), path.to_owned()),
                ("auth".to_owned(), auth.to_owned()),
            ]),
        }
    }

    fn info(name: &str, id: &str, version: &str, endpoints: Vec<EndpointInfo>) -> ServiceInfo {
        ServiceInfo {
            name: name.into(),
            id: id.into(),
            version: version.into(),
            description: String::new(),
            metadata: HashMap::new(),
            endpoints,
        }
    }

    /// One instance (version 1.0.0) of `name` serving `(subject, method, path, auth)`s.
    fn service(name: &str, endpoints: &[(&str, &str, &str, &str)]) -> Vec<ServiceInfo> {
        let endpoints = endpoints
            .iter()
            .map(|&(subject, method, path, auth)| endpoint(subject, method, path, auth))
            .collect();
        vec![info(name, &format!("{name}-1"), "1.0.0", endpoints)]
    }

    fn catalog() -> Vec<ServiceInfo> {
        service(
            "products",
            &[
                ("products.list", "GET", "/products", "user"),
                ("products.get", "GET", "/products/{id}", "user"),
                ("products.delete", "DELETE", "/products/{id}", "admin"),
                ("products.search", "GET", "/products/search", "public"),
                ("products.stock", "GET", "/products/{id}/stock", "user"),
            ],
        )
    }

    fn found(
        table: &RouteTable,
        method: http::Method,
        path: &str,
    ) -> (String, Vec<(String, String)>) {
        match table.find(&method, path) {
            Match::Found(route, params) => (route.subject.clone(), params.into_iter().collect()),
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    /// Asserts which subject each `(method, path)` reaches.
    fn assert_subjects(table: &RouteTable, cases: &[(http::Method, &str, &str)]) {
        for (method, path, subject) in cases {
            assert_eq!(
                found(table, method.clone(), path).0,
                *subject,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn literals_beat_parameters_and_params_are_decoded() {
        let table = RouteTable::build(&catalog());
        assert_subjects(
            &table,
            &[(http::Method::GET, "/products/search", "products.search")],
        );
        let (subject, params) = found(&table, http::Method::GET, "/products/a%20b");
        assert_eq!(subject, "products.get");
        assert_eq!(params, [("id".to_owned(), "a b".to_owned())]);
        assert_subjects(
            &table,
            &[
                (http::Method::GET, "/products/7/stock", "products.stock"),
                (http::Method::DELETE, "/products/7", "products.delete"),
            ],
        );
    }

    #[test]
    fn a_literal_that_leads_nowhere_falls_back_to_the_parameter() {
        let table = RouteTable::build(&catalog());
        assert_subjects(
            &table,
            &[(
                http::Method::GET,
                "/products/search/stock",
                "products.stock",
            )],
        );
    }

    #[test]
    fn templates_differing_only_in_parameter_names_share_a_path() {
        let table = RouteTable::build(&service(
            "things",
            &[
                ("things.get", "GET", "/things/{id}", "public"),
                ("things.rename", "PUT", "/things/{name}", "public"),
                ("things.other", "GET", "/things/{name}", "public"),
            ],
        ));
        let (subject, params) = found(&table, http::Method::GET, "/things/7");
        assert_eq!(subject, "things.get");
        assert_eq!(params, [("id".to_owned(), "7".to_owned())]);
        let (subject, params) = found(&table, http::Method::PUT, "/things/7");
        assert_eq!(subject, "things.rename");
        assert_eq!(params, [("name".to_owned(), "7".to_owned())]);
    }

    #[test]
    fn misses_are_told_apart() {
        let table = RouteTable::build(&catalog());
        for path in ["/nope", "/products/", "/products//x", "/"] {
            assert!(
                matches!(table.find(&http::Method::GET, path), Match::NotFound),
                "{path}"
            );
        }
        assert!(matches!(
            table.find(&http::Method::GET, "/products/%FF"),
            Match::BadPath
        ));
        match table.find(&http::Method::PUT, "/products/7") {
            Match::MethodNotAllowed(allowed) => {
                assert_eq!(allowed, [HttpMethod::Get, HttpMethod::Delete]);
            }
            other => panic!("{other:?}"),
        }
        // The literal template decides, even though the parameter one has DELETE.
        assert!(matches!(
            table.find(&http::Method::DELETE, "/products/search"),
            Match::MethodNotAllowed(_)
        ));
    }

    #[test]
    fn conflicts_resolve_by_version_then_name() {
        let mut instances = catalog();
        instances.push(info(
            "catalog",
            "c1",
            "2.0.0",
            vec![endpoint("catalog.list", "GET", "/products", "public")],
        ));
        instances.push(info(
            "aardvark",
            "a1",
            "1.0.0",
            vec![endpoint("aardvark.get", "GET", "/products/{id}", "public")],
        ));
        // Input order must not matter.
        for _ in 0..2 {
            let table = RouteTable::build(&instances);
            assert_subjects(
                &table,
                &[
                    (http::Method::GET, "/products", "catalog.list"),
                    (http::Method::GET, "/products/1", "aardvark.get"),
                ],
            );
            let conflicts = table.conflicts();
            assert_eq!(conflicts.len(), 2, "{conflicts:?}");
            assert_eq!(conflicts[0].path, "/products");
            assert_eq!(conflicts[0].winner, "catalog@2.0.0 (catalog.list)");
            assert_eq!(conflicts[0].losers, ["products@1.0.0 (products.list)"]);
            instances.reverse();
        }
    }

    #[test]
    fn instances_of_one_service_are_one_route_described_by_the_newest() {
        let old = info(
            "products",
            "p1",
            "1.0.0",
            vec![endpoint("products.list", "GET", "/products", "user")],
        );
        let new = info(
            "products",
            "p2",
            "1.1.0",
            vec![endpoint("products.list", "GET", "/products", "public")],
        );
        let table = RouteTable::build(&[old, new]);
        assert!(table.conflicts().is_empty());
        assert_eq!(table.routes().len(), 1);
        assert_eq!(table.routes()[0].version, "1.1.0");
        assert_eq!(table.routes()[0].auth, AuthLevel::Public);
    }

    #[test]
    fn reserved_internal_and_invalid_endpoints() {
        let mut bad = endpoint("evil.metrics", "GET", "/metrics", "public");
        bad.name = "metrics".into();
        let mut broken = endpoint("evil.broken", "GET", "/x", "root");
        broken.name = "broken".into();
        let internal = EndpointInfo {
            name: "jwks".into(),
            subject: "evil.jwks".into(),
            queue_group: None,
            metadata: HashMap::new(),
        };
        let table = RouteTable::build(&[info("evil", "e1", "1.0.0", vec![bad, broken, internal])]);
        assert!(table.routes().is_empty());
        assert_eq!(table.conflicts()[0].winner, "gateway");
        assert_eq!(table.invalid().len(), 1);
        assert!(
            table.invalid()[0].reason.contains("auth"),
            "{:?}",
            table.invalid()
        );
    }

    #[test]
    fn the_schema_endpoint_is_never_routed_and_hashes_reach_the_routes() {
        let mut list = endpoint("widgets.list", "GET", "/widgets", "public");
        list.metadata.insert(
            contract::metadata::SCHEMA_HASH.into(),
            "0123456789abcdef".into(),
        );
        // Even with an HTTP mapping, the endpoint marked as the schema document is internal.
        let mut schema = endpoint("widgets.schema", "GET", "/widgets/schema", "public");
        schema.metadata.insert(
            contract::metadata::KIND.into(),
            contract::metadata::KIND_SCHEMA.into(),
        );
        let table = RouteTable::build(&[info("widgets", "w1", "1.0.0", vec![list, schema])]);
        assert_eq!(table.routes().len(), 1, "{:?}", table.routes());
        assert_eq!(
            table.routes()[0].schema_hash.as_deref(),
            Some("0123456789abcdef")
        );
    }
}
