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

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use contract::{AuthLevel, EndpointMeta, HttpMethod, metadata};
use runtime::discover::ServiceInfo;
use serde::Serialize;

use crate::version::Version;

/// Paths the gateway serves itself.
pub const RESERVED_PATHS: [&str; 5] = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/services",
];

/// One routed endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// The HTTP method.
    pub method: HttpMethod,
    /// The path template, e.g. `/customers/{id}`.
    pub path: String,
    /// Who may call it.
    pub auth: AuthLevel,
    /// The success status.
    pub success_status: u16,
    /// The one-line summary, if any.
    pub summary: Option<String>,
    /// The NATS subject requests go to.
    pub subject: String,
    /// The service that serves it.
    pub service: String,
    /// The newest version of that service seen serving it.
    pub version: String,
    /// The endpoint's name within the service.
    pub endpoint: String,
}

impl Route {
    /// The names of the path's parameters, in order.
    pub fn path_params(&self) -> Vec<&str> {
        template_segments(&self.path)
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect()
    }
}

/// A method and path claimed by more than one subject, and who got it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The HTTP method.
    pub method: HttpMethod,
    /// The path template.
    pub path: String,
    /// `service@version (subject)` of the winner, or `gateway` for a reserved path.
    pub winner: String,
    /// The same for every claim that lost.
    pub losers: Vec<String>,
}

/// An endpoint whose metadata could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidEndpoint {
    /// The service.
    pub service: String,
    /// The endpoint's subject.
    pub subject: String,
    /// Why it is not routed.
    pub reason: String,
}

/// What a request path and method resolve to.
#[derive(Debug)]
pub enum Match<'a> {
    /// A route, with its decoded path parameters.
    Found(&'a Route, BTreeMap<String, String>),
    /// The path exists, but not with this method; the allowed methods.
    MethodNotAllowed(Vec<HttpMethod>),
    /// No template matches the path.
    NotFound,
    /// A path segment is not valid percent-encoded UTF-8.
    BadPath,
}

/// The routing table.
#[derive(Debug, Default, Clone)]
pub struct RouteTable {
    /// Every route, sorted by path then method.
    routes: Vec<Route>,
    /// Templates with their methods, most specific first.
    templates: Vec<Template>,
    /// Conflicts found while building.
    conflicts: Vec<Conflict>,
    /// Endpoints left out because of bad metadata.
    invalid: Vec<InvalidEndpoint>,
}

#[derive(Debug, Clone)]
struct Template {
    segments: Vec<Segment>,
    /// Method → index into `routes`.
    methods: BTreeMap<HttpMethod, usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Segment {
    // Declared first so literals sort before parameters: the more specific template wins.
    Literal(String),
    Param(String),
}

fn template_segments(path: &str) -> impl Iterator<Item = &str> {
    path.strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .filter(|s| !s.is_empty())
}

fn parse_template(path: &str) -> Vec<Segment> {
    template_segments(path)
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param(name.to_owned()),
                None => Segment::Literal(seg.to_owned()),
            },
        )
        .collect()
}

/// Orders templates so the first match is the most specific: at the first position where two
/// templates differ in kind, the literal wins.
fn specificity(a: &[Segment], b: &[Segment]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match (x, y) {
            (Segment::Literal(_), Segment::Param(_)) => return Ordering::Less,
            (Segment::Param(_), Segment::Literal(_)) => return Ordering::Greater,
            _ => {}
        }
    }
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// One claim of a method and path by one subject, during building.
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

impl RouteTable {
    /// Builds the table from every instance discovery sees.
    pub fn build(instances: &[ServiceInfo]) -> Self {
        // (method, path) → subject → best claim for that subject.
        let mut claims: BTreeMap<(HttpMethod, String), BTreeMap<String, Claim>> = BTreeMap::new();
        let mut invalid = BTreeMap::new();
        for info in instances {
            let version = Version::parse(&info.version);
            for endpoint in &info.endpoints {
                let has_mapping = endpoint.metadata.contains_key(metadata::HTTP_METHOD)
                    || endpoint.metadata.contains_key(metadata::HTTP_PATH);
                if !has_mapping {
                    continue; // An internal endpoint, callable over NATS only.
                }
                let meta = match EndpointMeta::from_metadata(&endpoint.metadata) {
                    Ok(meta) => meta,
                    Err(e) => {
                        invalid
                            .insert((info.name.clone(), endpoint.subject.clone()), e.to_string());
                        continue;
                    }
                };
                let claim = Claim {
                    route: Route {
                        method: meta.method,
                        path: meta.path,
                        auth: meta.auth,
                        success_status: meta.success_status,
                        summary: meta.summary,
                        subject: endpoint.subject.clone(),
                        service: info.name.clone(),
                        version: info.version.clone(),
                        endpoint: endpoint.name.clone(),
                    },
                    version: version.clone(),
                };
                let by_subject = claims
                    .entry((claim.route.method, claim.route.path.clone()))
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

        let mut templates: BTreeMap<String, Template> = BTreeMap::new();
        for (index, route) in routes.iter().enumerate() {
            templates
                .entry(route.path.clone())
                .or_insert_with(|| Template {
                    segments: parse_template(&route.path),
                    methods: BTreeMap::new(),
                })
                .methods
                .insert(route.method, index);
        }
        let mut templates: Vec<Template> = templates.into_values().collect();
        templates.sort_by(|a, b| specificity(&a.segments, &b.segments));

        Self {
            routes,
            templates,
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

    /// Every route, sorted by path then method.
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
        let parts: Vec<&str> = template_segments(path).collect();
        // A trailing or doubled slash is a different path, not the same one.
        if path != "/" && (path.ends_with('/') || path.contains("//")) {
            return Match::NotFound;
        }
        let Some(template) = self.templates.iter().find(|t| matches(&t.segments, &parts)) else {
            return Match::NotFound;
        };
        let index = HttpMethod::parse(method.as_str()).and_then(|m| template.methods.get(&m));
        let Some(&index) = index else {
            return Match::MethodNotAllowed(template.methods.keys().copied().collect());
        };
        let mut params = BTreeMap::new();
        for (segment, part) in template.segments.iter().zip(&parts) {
            if let Segment::Param(name) = segment {
                match percent_encoding::percent_decode_str(part).decode_utf8() {
                    Ok(value) => {
                        params.insert(name.clone(), value.into_owned());
                    }
                    Err(_) => return Match::BadPath,
                }
            }
        }
        Match::Found(&self.routes[index], params)
    }

    /// The distinct services routed, for metrics.
    pub fn services(&self) -> BTreeSet<&str> {
        self.routes.iter().map(|r| r.service.as_str()).collect()
    }
}

fn matches(template: &[Segment], parts: &[&str]) -> bool {
    template.len() == parts.len()
        && template.iter().zip(parts).all(|(seg, part)| match seg {
            Segment::Literal(lit) => lit == part,
            Segment::Param(_) => !part.is_empty(),
        })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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

    fn catalog() -> Vec<ServiceInfo> {
        vec![info(
            "products",
            "p1",
            "1.0.0",
            vec![
                endpoint("products.list", "GET", "/products", "user"),
                endpoint("products.get", "GET", "/products/{id}", "user"),
                endpoint("products.delete", "DELETE", "/products/{id}", "admin"),
                endpoint("products.search", "GET", "/products/search", "public"),
                endpoint("products.stock", "GET", "/products/{id}/stock", "user"),
            ],
        )]
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

    #[test]
    fn literals_beat_parameters_and_params_are_decoded() {
        let table = RouteTable::build(&catalog());
        assert_eq!(
            found(&table, http::Method::GET, "/products/search").0,
            "products.search"
        );
        let (subject, params) = found(&table, http::Method::GET, "/products/a%20b");
        assert_eq!(subject, "products.get");
        assert_eq!(params, [("id".to_owned(), "a b".to_owned())]);
        assert_eq!(
            found(&table, http::Method::GET, "/products/7/stock").0,
            "products.stock"
        );
        assert_eq!(
            found(&table, http::Method::DELETE, "/products/7").0,
            "products.delete"
        );
    }

    #[test]
    fn misses_are_told_apart() {
        let table = RouteTable::build(&catalog());
        assert!(matches!(
            table.find(&http::Method::GET, "/nope"),
            Match::NotFound
        ));
        assert!(matches!(
            table.find(&http::Method::GET, "/products/"),
            Match::NotFound
        ));
        assert!(matches!(
            table.find(&http::Method::GET, "/products//x"),
            Match::NotFound
        ));
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
            assert_eq!(
                found(&table, http::Method::GET, "/products").0,
                "catalog.list"
            );
            assert_eq!(
                found(&table, http::Method::GET, "/products/1").0,
                "aardvark.get"
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
}
