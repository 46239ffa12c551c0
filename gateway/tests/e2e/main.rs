//! End to end: real NATS, PostgreSQL and MongoDB-wire servers, the real auth, customers and
//! products services and the real gateway, all driven over HTTP. The whole-system test runs
//! them as processes through the launcher (as `make run` does); the key-rotation test runs
//! auth and the gateway in-process, to restart auth with other keys.

use std::time::Duration;

use contract::deploy::{AUTH, env};
use runtime::config::NatsArgs;
use runtime::test_support::{MongoServer, NatsServer, wait_until};
use serde_json::{Value, json};
use testbed::http::Api as Http;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

mod takeover;

const WAIT: Duration = Duration::from_secs(60);
const ADMIN_EMAIL: &str = "admin@example.com";
const ADMIN_PASSWORD: &str = "admin-password-123";

/// Runs one server of the system as a task, named for the report if it fails.
fn spawn<E: std::fmt::Display>(
    name: &'static str,
    server: impl Future<Output = Result<(), E>> + Send + 'static,
) -> (&'static str, JoinHandle<Result<(), String>>) {
    let task = tokio::spawn(async move { server.await.map_err(|e| e.to_string()) });
    (name, task)
}

async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// The whole system as processes of the debug binaries, started by the launcher as `make run`
/// starts it; stopped on drop.
struct System {
    http: Http,
    _system: launcher::System,
}

/// The whole system of the debug binaries with the bootstrap admin, cheap password hashing
/// (the tests log in many times on a loaded machine) and fast discovery.
fn builder() -> launcher::Builder {
    let bin_dir = launcher::binaries::debug_dir(&launcher::binaries::SYSTEM_BINARIES);
    launcher::System::builder(bin_dir)
        .admin(ADMIN_EMAIL, ADMIN_PASSWORD)
        .component_env(AUTH, env::ARGON2_MEMORY_KIB, (8 * 1024).to_string())
        .component_env(AUTH, env::ARGON2_ITERATIONS, "1")
        .env(env::DISCOVERY_INTERVAL_MS, "200")
}

impl System {
    async fn start() -> Self {
        let system = builder()
            .start()
            .await
            .unwrap_or_else(|e| panic!("the system did not start: {e}"));
        Self {
            http: system.api(),
            _system: system,
        }
    }

    async fn login(&self, email: &str, password: &str) -> Value {
        let body = json!({"email": email, "password": password});
        self.http
            .expect("POST", "/auth/login", None, Some(body), 200)
            .await
            .body
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_system_over_http() {
    let system = System::start().await;
    let http = &system.http;

    // Public JWKS, served by auth through discovery.
    let jwks = http
        .expect("GET", "/.well-known/jwks.json", None, None, 200)
        .await;
    assert_eq!(jwks.body["keys"][0]["alg"], "EdDSA");

    // Register (emails are trimmed and lower-cased, so the second is taken) and log in.
    let account = |username: &str, email: &str| {
        Some(json!({"username": username, "email": email, "password": "correct-horse-battery"}))
    };
    let wrong = Some(json!({"email": "ada@example.com", "password": "wrong-password"}));
    for (body, path, status) in [
        (account("ada", " Ada@Example.com "), "/auth/register", 201),
        (account("ada2", "ada@example.com"), "/auth/register", 409),
        (wrong, "/auth/login", 401),
    ] {
        http.expect("POST", path, None, body, status).await;
    }
    let pair = system
        .login("ada@example.com", "correct-horse-battery")
        .await;
    let user_token = pair["access_token"].as_str().unwrap().to_owned();
    let me = http
        .expect("GET", "/auth/me", Some(&user_token), None, 200)
        .await;
    assert_eq!(me.body["email"], "ada@example.com");
    let admin_token = system.login(ADMIN_EMAIL, ADMIN_PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (user, admin) = (Some(user_token.as_str()), Some(admin_token.as_str()));

    // Customers: reads and writes need a token, deletes the admin's.
    http.expect("GET", "/customers", None, None, 401).await;
    let list = http
        .expect("GET", "/customers?limit=5&country=Germany", user, None, 200)
        .await;
    assert!(list.body["total"].as_u64().unwrap() > 0);
    assert!(list.body["data"].as_array().unwrap().len() <= 5);
    let search = http
        .expect("GET", "/customers?q=alfreds", user, None, 200)
        .await;
    assert_eq!(search.body["data"][0]["customer_id"], "ALFKI");
    let natstack = Some(json!({"customer_id": "NATST", "company_name": "natstack"}));
    let unnamed = Some(json!({"customer_id": "NATSX", "company_name": ""}));
    for (method, path, token, body, status) in [
        ("GET", "/customers/ALFKI", user, None, 200),
        ("GET", "/customers/ZZZZZ", user, None, 404),
        ("POST", "/customers", user, natstack.clone(), 201),
        ("POST", "/customers", user, natstack, 409),
        ("POST", "/customers", user, unnamed, 422),
    ] {
        http.expect(method, path, token, body, status).await;
    }
    let city = Some(json!({"city": "Berlin"}));
    let patched = http
        .expect("PATCH", "/customers/NATST", user, city, 200)
        .await;
    assert_eq!(patched.body["city"], "Berlin");
    for (token, status) in [(user, 403), (admin, 204)] {
        http.expect("DELETE", "/customers/NATST", token, None, status)
            .await;
    }
    http.expect("GET", "/customers/NATST", user, None, 404)
        .await;

    // Products, categories, suppliers.
    let list = http
        .expect("GET", "/products?q=chai", user, None, 200)
        .await;
    assert!(list.body["total"].as_u64().unwrap() >= 1);
    for path in ["/products/1", "/categories", "/suppliers"] {
        http.expect("GET", path, user, None, 200).await;
    }
    let tea = json!({"product_name": "Gateway Tea", "category_id": 1, "supplier_id": 1});
    let created = http.expect("POST", "/products", user, Some(tea), 201).await;
    let product = format!("/products/{}", created.body["product_id"].as_i64().unwrap());
    let discontinued = Some(json!({"discontinued": true}));
    let patched = http
        .expect("PATCH", &product, user, discontinued, 200)
        .await;
    assert_eq!(patched.body["discontinued"], true);
    for (token, status) in [(user, 403), (admin, 204)] {
        http.expect("DELETE", &product, token, None, status).await;
    }
    let bad_id = http.call("GET", "/products/not-a-number", user, None).await;
    assert_eq!(bad_id.status / 100, 4);
    idempotent_creates(http, user, admin).await;

    // Refresh rotates; a reused refresh token is refused; logout revokes.
    let refresh = |token: &Value| Some(json!({"refresh_token": token}));
    let first = &pair["refresh_token"];
    http.expect("POST", "/auth/refresh", None, refresh(first), 200)
        .await;
    http.expect("POST", "/auth/refresh", None, refresh(first), 401)
        .await;
    let pair = system
        .login("ada@example.com", "correct-horse-battery")
        .await;
    let second = &pair["refresh_token"];
    http.expect("POST", "/auth/logout", None, refresh(second), 204)
        .await;
    let after = http
        .expect("POST", "/auth/refresh", None, refresh(second), 401)
        .await;

    // Every response carries a request id; the OpenAPI document lists the real routes.
    assert!(after.headers.contains_key("x-request-id"));
    let doc = http.call("GET", "/openapi.json", None, None).await.body;
    for path in [
        "/auth/login",
        "/customers/{id}",
        "/products",
        "/categories",
        "/suppliers",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    // With the schemas the real services publish: parameters, bounds, bodies.
    let list = &doc["paths"]["/customers"]["get"];
    let limit = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .expect("limit is declared");
    assert_eq!(limit["in"], "query");
    assert_eq!(limit["schema"]["maximum"], 100);
    assert_eq!(limit["schema"]["type"], "integer");
    let create = &doc["paths"]["/products"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/NewProduct"
    );
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["NewProduct"]["properties"]["product_name"]["maxLength"],
        40
    );
    assert_eq!(
        schemas["Page_Customer"]["properties"]["data"]["type"],
        "array"
    );
    assert_eq!(
        doc["paths"]["/auth/login"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/TokenPair"
    );
    drop(system);
}

/// A create sent again with its `Idempotency-Key` is not carried out twice: the repeat gets
/// the first answer, marked replayed; the key with another body is refused; another user's
/// same key is theirs alone; public routes ignore keys.
async fn idempotent_creates(http: &Http, user: Option<&str>, admin: Option<&str>) {
    let post = |token, key: &'static str, body: Value| async move {
        http.try_call_with(
            "POST",
            "/products",
            token,
            &[("idempotency-key", key)],
            Some(body),
        )
        .await
        .unwrap()
    };
    let jam = json!({"product_name": "Idempotent Jam", "category_id": 2, "supplier_id": 1});
    let first = post(user, "jam-order-1", jam.clone()).await;
    let again = post(user, "jam-order-1", jam.clone()).await;
    assert_eq!((first.status, again.status), (201, 201), "{}", again.body);
    assert_eq!(
        first.body, again.body,
        "the repeat answers the first result"
    );
    assert!(!first.headers.contains_key("idempotent-replayed"));
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let found = http
        .expect("GET", "/products?q=Idempotent%20Jam", user, None, 200)
        .await;
    assert_eq!(found.body["total"], 1, "one product, not two");

    let other = json!({"product_name": "Other Jam", "category_id": 2, "supplier_id": 1});
    let reused = post(user, "jam-order-1", other.clone()).await;
    assert_eq!(reused.status, 422, "{}", reused.body);
    let theirs = post(admin, "jam-order-1", other).await;
    assert_eq!(theirs.status, 201, "another user's key: {}", theirs.body);
    assert_ne!(theirs.body["product_id"], first.body["product_id"]);

    let bad = post(user, "not a key", jam).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(
        bad.body["message"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );
    let login = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD});
    let ignored = http
        .try_call_with(
            "POST",
            "/auth/login",
            None,
            &[("idempotency-key", "not a key")],
            Some(login),
        )
        .await
        .unwrap();
    assert_eq!(ignored.status, 200, "public routes ignore keys");
}

const KEY_A: &str = "-----BEGIN PRIVATE KEY-----\n\
    MC4CAQAwBQYDK2VwBCIEIHngP3uc7hMENG70ZNVMAdhr22BNO/IPd5oHFLh8hRpe\n\
    -----END PRIVATE KEY-----\n";
const KEY_B: &str = "-----BEGIN PRIVATE KEY-----\n\
    MC4CAQAwBQYDK2VwBCIEIILe/5knyzbUd4QxTipCPyHo6qBJzMAsnlJTTOeiUo0g\n\
    -----END PRIVATE KEY-----\n";

/// Starts the real auth service signing with `key`, publishing `previous` too.
async fn start_auth(
    nats: &NatsServer,
    mongo: &MongoServer,
    key: &std::path::Path,
    previous: Vec<std::path::PathBuf>,
) -> (watch::Sender<bool>, JoinHandle<Result<(), String>>) {
    let mut config = auth::Config::new(mongo.url());
    config.admin_email = Some(ADMIN_EMAIL.into());
    config.admin_password = Some(ADMIN_PASSWORD.into());
    config.argon2.argon2_memory_kib = 8 * 1024;
    config.argon2.argon2_iterations = 1;
    config.jwt_private_key_file = Some(key.to_owned());
    config.jwt_previous_key_files = previous;
    let (stop, mut rx) = watch::channel(false);
    let health = listener().await;
    let stopped = async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let nats = NatsArgs::url(nats.url());
    let (_, task) = spawn("auth", auth::run(nats, config, health, stopped));
    (stop, task)
}

/// The admin's access token, once a login succeeds (auth may not be routed yet).
async fn admin_token_once(http: &Http, what: &str) -> String {
    let login = || async {
        let body = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD});
        let reply = http.call("POST", "/auth/login", None, Some(body)).await;
        (reply.status == 200).then(|| reply.body["access_token"].as_str().unwrap().to_owned())
    };
    wait_until(what, WAIT, || async { login().await.is_some() }).await;
    login().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_auth_key_is_picked_up_through_the_jwks_refetch() {
    let nats = NatsServer::start().await.unwrap();
    let mongo = MongoServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (key_a, key_b) = (dir.path().join("a.pem"), dir.path().join("b.pem"));
    std::fs::write(&key_a, KEY_A).unwrap();
    std::fs::write(&key_b, KEY_B).unwrap();

    let (stop_auth, auth_task) = start_auth(&nats, &mongo, &key_a, Vec::new()).await;
    let mut config = gateway::Config::new(NatsArgs::url(nats.url()));
    config.discovery = gateway::config::DiscoveryConfig::every(Duration::from_millis(200));
    // Keep routes of stopped instances, so a stopped auth service is a 503 (no responders)
    // for as long as this test needs, not a 404 once discovery drops it.
    config.discovery.missed_polls = u32::MAX;
    let api = listener().await;
    let http = Http::new(&format!("http://{}", api.local_addr().unwrap()));
    let (stop_gateway, mut rx) = watch::channel(false);
    let health = listener().await;
    let gateway_task = tokio::spawn(gateway::run(config, api, health, async move {
        let _ = rx.wait_for(|s| *s).await;
    }));
    let old = admin_token_once(&http, "auth is routed and logs in").await;
    assert_eq!(
        http.call("GET", "/auth/me", Some(&old), None).await.status,
        200
    );

    rejects_tokens_it_did_not_issue(&http, &old).await;

    // Rotate: a new auth instance signs with key B and still publishes key A.
    let _ = stop_auth.send(true);
    auth_task.await.unwrap().unwrap();
    // Meanwhile the real auth service is gone: its routes answer 503, not 500 or a hang.
    let probe = http.clone();
    wait_until("login answers 503 while auth is stopped", WAIT, || {
        let http = probe.clone();
        async move {
            let body = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD});
            let reply = http.call("POST", "/auth/login", None, Some(body)).await;
            assert!(
                matches!(reply.status, 503 | 504),
                "{}: {}",
                reply.status,
                reply.body
            );
            reply.status == 503 && reply.body["code"] == "unavailable"
        }
    })
    .await;
    let (stop_auth, auth_task) = start_auth(&nats, &mongo, &key_b, vec![key_a.clone()]).await;
    let new = admin_token_once(&http, "the rotated auth instance logs in").await;
    assert_ne!(
        runtime::jwt::Verifier::kid(&new).unwrap(),
        runtime::jwt::Verifier::kid(&old).unwrap(),
        "the new token names the new key"
    );
    // The gateway has never seen key B: the unknown kid makes it refetch the JWKS (retried
    // only because a refetch within a second of the last one is throttled).
    let probe = http.clone();
    let token = new.clone();
    wait_until(
        "a token signed with the rotated key is accepted",
        WAIT,
        || {
            let (http, token) = (probe.clone(), token.clone());
            async move {
                http.call("GET", "/auth/me", Some(&token), None)
                    .await
                    .status
                    == 200
            }
        },
    )
    .await;
    assert_eq!(
        http.call("GET", "/auth/me", Some(&old), None).await.status,
        200,
        "the previous key still verifies"
    );

    let _ = stop_gateway.send(true);
    gateway_task.await.unwrap().unwrap();
    let _ = stop_auth.send(true);
    auth_task.await.unwrap().unwrap();
}

/// Tokens the real auth service did not issue, each refused by the real gateway: expired and
/// wrong-audience tokens signed with auth's own key (`KEY_A`), a forgery signed with another
/// key under auth's `kid`, and an unsigned `alg: none` token; a faithful re-signing of `issued`
/// is accepted, so the refusals are about exactly those differences.
async fn rejects_tokens_it_did_not_issue(http: &Http, issued: &str) {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    let kid = runtime::jwt::Verifier::kid(issued).unwrap();
    let payload = issued.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let sign = |pem: &str, claims: &Value| {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        let key = jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()).unwrap();
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut expired = claims.clone();
    expired["iat"] = json!(now - 7_200);
    expired["exp"] = json!(now - 3_600);
    let mut wrong_audience = claims.clone();
    wrong_audience["aud"] = json!("somebody-else");
    let unsigned = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
    );

    let me = |token: String| {
        let http = http.clone();
        async move { http.call("GET", "/auth/me", Some(&token), None).await }
    };
    assert_eq!(
        me(sign(KEY_A, &claims)).await.status,
        200,
        "a faithful re-signing"
    );
    for (what, token) in [
        ("expired", sign(KEY_A, &expired)),
        ("wrong audience", sign(KEY_A, &wrong_audience)),
        ("forged with another key", sign(KEY_B, &claims)),
        ("alg none", unsigned),
    ] {
        let reply = me(token).await;
        assert_eq!(reply.status, 401, "{what}: {}", reply.body);
        assert_eq!(reply.body["code"], "unauthenticated", "{what}");
    }
}
