//! The routing table's tests: building, conflicts, claims and matching.

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

/// Instance `id` of `name` at `version`, serving `(subject, method, path, auth)`s.
fn instance(
    name: &str,
    id: &str,
    version: &str,
    endpoints: &[(&str, &str, &str, &str)],
) -> ServiceInfo {
    let endpoints = endpoints
        .iter()
        .map(|&(subject, method, path, auth)| endpoint(subject, method, path, auth))
        .collect();
    info(name, id, version, endpoints)
}

/// One instance (version 1.0.0) of `name` serving `(subject, method, path, auth)`s.
fn service(name: &str, endpoints: &[(&str, &str, &str, &str)]) -> Vec<ServiceInfo> {
    vec![instance(name, &format!("{name}-1"), "1.0.0", endpoints)]
}

/// The owners every test table is built with.
fn owners() -> RouteOwners {
    RouteOwners::parse(
        "auth=/auth;products=/products;things=/things;widgets=/widgets;evil=/evil;catalog=/catalog",
    )
    .unwrap()
}

fn build(instances: &[ServiceInfo]) -> RouteTable {
    RouteTable::build(instances, &owners())
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

fn found(table: &RouteTable, method: http::Method, path: &str) -> (String, Vec<(String, String)>) {
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
    let table = build(&catalog());
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
    let table = build(&catalog());
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
    let table = build(&service(
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
    let table = build(&catalog());
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

/// The refusals of `table`, as `(service, subject, path, reason)`.
fn refusals(table: &RouteTable) -> Vec<(&str, &str, &str, &str)> {
    table
        .refused()
        .iter()
        .map(|r| {
            (
                r.service.as_str(),
                r.subject.as_str(),
                r.path.as_str(),
                r.reason.as_str(),
            )
        })
        .collect()
}

#[test]
fn claims_outside_the_owners_prefixes_are_refused_whatever_their_version() {
    let mut instances = catalog();
    // A newer, public claim of another service's path, and one of a service nobody
    // declared: neither is served, and the owner's routes stay as they were.
    instances.push(instance(
        "catalog",
        "c1",
        "99.0.0",
        &[("catalog.list", "GET", "/products", "public")],
    ));
    instances.push(instance(
        "aaa",
        "a1",
        "99.0.0",
        &[("aaa.get", "GET", "/products/{id}", "public")],
    ));
    // Input order must not matter.
    for _ in 0..2 {
        let table = build(&instances);
        assert_subjects(
            &table,
            &[
                (http::Method::GET, "/products", "products.list"),
                (http::Method::GET, "/products/1", "products.get"),
            ],
        );
        assert!(table.conflicts().is_empty(), "{:?}", table.conflicts());
        assert_eq!(
            refusals(&table),
            [
                (
                    "aaa",
                    "aaa.get",
                    "/products/{id}",
                    "/products/{id} belongs to products"
                ),
                (
                    "catalog",
                    "catalog.list",
                    "/products",
                    "/products belongs to products"
                ),
            ]
        );
        instances.reverse();
    }
}

#[test]
fn a_service_cannot_take_over_login_or_downgrade_another_services_auth_level() {
    // The products user, answering discovery for its own service, claims auth's login and
    // a public `/auth/me` on a subject of its own, and serves a path of its own on a
    // subject of another service (`auth.login`), which it could never subscribe to.
    let mut instances = catalog();
    instances.push(instance(
        "auth",
        "auth-1",
        "1.0.0",
        &[
            ("auth.login", "POST", "/auth/login", "public"),
            ("auth.me", "GET", "/auth/me", "user"),
        ],
    ));
    instances.push(instance(
        "products",
        "rogue",
        "99.0.0",
        &[
            ("products.evil", "POST", "/auth/login", "public"),
            ("products.me", "GET", "/auth/me", "public"),
            ("auth.login", "GET", "/products/login", "public"),
            ("products.*", "GET", "/products/any", "public"),
        ],
    ));
    let table = build(&instances);
    assert_subjects(
        &table,
        &[
            (http::Method::POST, "/auth/login", "auth.login"),
            (http::Method::GET, "/auth/me", "auth.me"),
        ],
    );
    let me = table
        .routes()
        .iter()
        .find(|r| &*r.path == "/auth/me")
        .unwrap();
    assert_eq!(me.auth, AuthLevel::User, "the owner's auth level stands");
    let reasons: Vec<&str> = refusals(&table).into_iter().map(|r| r.3).collect();
    assert_eq!(
        reasons,
        [
            "subject auth.login is not under the service's own name (products.…)",
            "subject products.* is not under the service's own name (products.…)",
            "/auth/login belongs to auth",
            "/auth/me belongs to auth",
        ]
    );
    assert!(matches!(
        table.find(&http::Method::GET, "/products/login"),
        Match::Found(route, _) if route.subject == "products.get"
    ));
}

#[test]
fn two_subjects_of_one_service_conflict_and_the_newest_version_wins() {
    let mut instances = catalog();
    instances.push(instance(
        "products",
        "p2",
        "2.0.0",
        &[("products.browse", "GET", "/products", "user")],
    ));
    let table = build(&instances);
    assert_subjects(
        &table,
        &[(http::Method::GET, "/products", "products.browse")],
    );
    let conflicts = table.conflicts();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].winner, "products@2.0.0 (products.browse)");
    assert_eq!(conflicts[0].losers, ["products@1.0.0 (products.list)"]);
}

#[test]
fn instances_of_one_service_are_one_route_described_by_the_newest() {
    let old = instance(
        "products",
        "p1",
        "1.0.0",
        &[("products.list", "GET", "/products", "user")],
    );
    let new = instance(
        "products",
        "p2",
        "1.1.0",
        &[("products.list", "GET", "/products", "public")],
    );
    let table = build(&[old, new]);
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
    let table = build(&[info("evil", "e1", "1.0.0", vec![bad, broken, internal])]);
    assert!(table.routes().is_empty());
    assert_eq!(
        refusals(&table),
        [(
            "evil",
            "evil.metrics",
            "/metrics",
            "the gateway serves /metrics itself"
        )]
    );
    assert_eq!(table.invalid().len(), 1);
    assert!(
        table.invalid()[0].reason.contains("auth"),
        "{:?}",
        table.invalid()
    );
}

#[test]
fn a_claim_on_any_path_the_gateway_mounts_is_refused() {
    // Every own route, and a template that reaches one (`{name}` read as a segment).
    let mut paths: Vec<&str> = crate::own::routes(true).iter().map(|r| r.0).collect();
    paths.extend(["/docs/{name}", "/docs/swagger-ui.css"]);
    for path in paths {
        let claim = ("evil.claim", "GET", path, "public");
        let table = build(&[instance("evil", "e1", "1.0.0", &[claim])]);
        assert!(table.routes().is_empty(), "{path} was routed");
        if path.ends_with('/') {
            // No service may claim such a path at all: invalid metadata.
            assert_eq!(table.invalid().len(), 1, "{path}");
            continue;
        }
        assert_eq!(
            refusals(&table),
            [(
                "evil",
                "evil.claim",
                path,
                format!("the gateway serves {path} itself").as_str()
            )]
        );
    }
    // `GET /events` is the gateway's: no service may take its events stream over.
    assert!(crate::own::is_reserved(crate::events::PATH));
    // Paths beside them stay the services' to claim.
    for path in ["/docsearch", "/healthz/x", "/evil/docs", "/events/x"] {
        assert!(!crate::own::is_reserved(path), "{path}");
    }
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
    let table = build(&[info("widgets", "w1", "1.0.0", vec![list, schema])]);
    assert_eq!(table.routes().len(), 1, "{:?}", table.routes());
    assert_eq!(
        table.routes()[0].schema_hash.as_deref(),
        Some("0123456789abcdef")
    );
}
