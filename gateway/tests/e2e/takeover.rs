//! A compromised service, connected with its own NATS user as a pod of it would be, tries to
//! take over every route of the other services: by answering discovery under a name nobody
//! declared, and under its own name with claims of their paths at the `public` level. The whole
//! system runs as `make run` runs it (per-component NATS users, the launcher's `ROUTE_OWNERS`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_nats::service::ServiceExt as _;
use contract::deploy::{PRODUCTS, env};
use contract::routes::RouteOwners;
use futures::StreamExt as _;
use runtime::test_support::wait_until;
use serde_json::json;
use testbed::http::Api as Http;

use super::{ADMIN_EMAIL, ADMIN_PASSWORD, WAIT};

/// One route of the running system, as `/services` lists it.
#[derive(Debug, Clone)]
struct Route {
    method: String,
    path: String,
    auth: String,
    subject: String,
}

async fn routes(health: &Http) -> Vec<Route> {
    let view = health
        .expect("GET", "/services", None, None, 200)
        .await
        .body;
    view["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Route {
            method: r["method"].as_str().unwrap().to_owned(),
            path: r["path"].as_str().unwrap().to_owned(),
            auth: r["auth"].as_str().unwrap().to_owned(),
            subject: r["subject"].as_str().unwrap().to_owned(),
        })
        .collect()
}

/// Connects as `component`'s NATS user.
async fn connect_as(system: &launcher::System, component: &str) -> async_nats::Client {
    let vars: HashMap<String, String> = system.nats_env_of(component).into_iter().collect();
    async_nats::ConnectOptions::with_user_and_password(
        vars[env::NATS_USER].clone(),
        vars[env::NATS_PASSWORD].clone(),
    )
    .custom_inbox_prefix(vars[env::NATS_INBOX_PREFIX].clone())
    .connect(system.nats_url())
    .await
    .unwrap()
}

/// Starts a Services API service `name` on `client` claiming every `(method, path)` of
/// `claims` as public, on subjects `products.evil.<n>`; every request it receives is counted.
async fn rogue(
    client: &async_nats::Client,
    name: &str,
    claims: &[(String, String)],
    received: &Arc<AtomicUsize>,
) -> async_nats::service::Service {
    let service = client
        .service_builder()
        .queue_group("q")
        .start(name, "99.0.0")
        .await
        .unwrap();
    for (n, (method, path)) in claims.iter().enumerate() {
        let mut endpoint = service
            .endpoint_builder()
            .name(format!("evil{n}"))
            .metadata(HashMap::from([
                ("http.method".to_owned(), method.clone()),
                ("http.path".to_owned(), path.clone()),
                ("auth".to_owned(), "public".to_owned()),
            ]))
            .add(format!("products.evil.{name}.{n}"))
            .await
            .unwrap();
        let received = received.clone();
        tokio::spawn(async move {
            while let Some(request) = endpoint.next().await {
                received.fetch_add(1, Ordering::SeqCst);
                let _ = request.respond(Ok(r#"{"rogue":true}"#.into())).await;
            }
        });
    }
    client.flush().await.unwrap();
    service
}

/// `path` with each `{parameter}` replaced by a value.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "ALFKI" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn a_compromised_service_cannot_divert_a_single_request_of_another() {
    let system = super::builder()
        .nats_auth(true)
        .start()
        .await
        .unwrap_or_else(|e| panic!("the system did not start: {e}"));
    let http = system.api();
    let health = Http::new(&system.gateway_health_url());
    let before = routes(&health).await;
    let owners = RouteOwners::builtin();
    let foreign: Vec<Route> = before
        .iter()
        .filter(|r| owners.owner_of(&r.path) != Some(PRODUCTS))
        .cloned()
        .collect();
    assert!(
        foreign.len() >= 10,
        "auth's and customers' routes: {foreign:?}"
    );
    let claims: Vec<(String, String)> = foreign
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();

    // The products pod, compromised: under a name nobody declared (only the bare `$SRV.INFO`
    // reaches it, which the gateway never sends), and under its own name.
    let products = connect_as(&system, PRODUCTS).await;
    let received = Arc::new(AtomicUsize::new(0));
    let _aaa = rogue(&products, "aaa", &claims, &received).await;
    let _own = rogue(&products, PRODUCTS, &claims, &received).await;

    // Its claims are seen, refused and reported.
    wait_until("the rogue's claims are refused", WAIT, || {
        let health = health.clone();
        let want = claims.len();
        async move {
            let view = health.call("GET", "/services", None, None).await.body;
            view["refused_claims"].as_array().map_or(0, Vec::len) >= want
        }
    })
    .await;
    let view = health
        .expect("GET", "/services", None, None, 200)
        .await
        .body;
    for refused in view["refused_claims"].as_array().unwrap() {
        assert_eq!(refused["service"], PRODUCTS, "{refused}");
        let reason = refused["reason"].as_str().unwrap();
        assert!(
            reason.ends_with("belongs to auth") || reason.ends_with("belongs to customers"),
            "{reason}"
        );
    }

    // Every route of the others is served as before: same subject, same auth level.
    let after = routes(&health).await;
    for route in &foreign {
        let now = after
            .iter()
            .find(|r| r.method == route.method && r.path == route.path)
            .unwrap_or_else(|| panic!("{} {} is no longer routed", route.method, route.path));
        assert_eq!(
            now.subject, route.subject,
            "{} {}",
            route.method, route.path
        );
        assert_eq!(now.auth, route.auth, "{} {}", route.method, route.path);
    }

    // And answered by its owner: no token on the routes that need one is refused, the public
    // ones reach the real service. Not one request reaches the rogue.
    for route in &foreign {
        let body = (route.method != "GET" && route.method != "DELETE").then(|| json!({}));
        let reply = http
            .call(&route.method, &concrete(&route.path), None, body)
            .await;
        assert_ne!(reply.body, json!({"rogue": true}), "{route:?}");
        if route.auth != "public" {
            assert_eq!(reply.status, 401, "{route:?}: {}", reply.body);
        }
    }
    let login = http
        .expect(
            "POST",
            "/auth/login",
            None,
            Some(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
            200,
        )
        .await;
    assert!(login.body["access_token"].is_string(), "{}", login.body);
    assert_eq!(received.load(Ordering::SeqCst), 0, "requests diverted");
}
