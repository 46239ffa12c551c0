//! End to end: real NATS, PostgreSQL and MongoDB-wire servers, the real auth, customers and
//! products services and the real gateway, all driven over HTTP. The whole-system test runs
//! them as processes through the launcher (as `make run` does); the key-rotation test runs
//! auth and the gateway in-process, to restart auth with other keys.

use std::time::Duration;

use contract::deploy::{AUTH, env};
use launcher::http::Api as Http;
use runtime::config::NatsArgs;
use runtime::test_support::{MongoServer, NatsServer, wait_until};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

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

impl System {
    async fn start() -> Self {
        let bin_dir = launcher::binaries::debug_dir(&launcher::binaries::SYSTEM_BINARIES);
        let system = launcher::System::builder(bin_dir)
            .admin(ADMIN_EMAIL, ADMIN_PASSWORD)
            // Cheap password hashing: the test logs in many times on a loaded machine.
            .component_env(AUTH, env::ARGON2_MEMORY_KIB, (8 * 1024).to_string())
            .component_env(AUTH, env::ARGON2_ITERATIONS, "1")
            .env(env::DISCOVERY_INTERVAL_MS, "200")
            .start()
            .await
            .unwrap_or_else(|e| panic!("the system did not start: {e}"));
        Self {
            http: system.api(),
            _system: system,
        }
    }

    async fn login(&self, email: &str, password: &str) -> Value {
        let reply = self
            .http
            .call(
                "POST",
                "/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_system_over_http() {
    let system = System::start().await;
    let http = &system.http;

    // Public JWKS, served by auth through discovery.
    let jwks = http.call("GET", "/.well-known/jwks.json", None, None).await;
    assert_eq!(jwks.status, 200);
    assert_eq!(jwks.body["keys"][0]["alg"], "EdDSA");

    // Register and log in.
    let reg = http
        .call(
            "POST",
            "/auth/register",
            None,
            Some(json!({
                "username": "ada", "email": " Ada@Example.com ", "password": "correct-horse-battery"
            })),
        )
        .await;
    assert_eq!(reg.status, 201, "{}", reg.body);
    let dup = http
        .call(
            "POST",
            "/auth/register",
            None,
            Some(json!({
                "username": "ada2", "email": "ada@example.com", "password": "correct-horse-battery"
            })),
        )
        .await;
    assert_eq!(dup.status, 409);
    let bad = http
        .call(
            "POST",
            "/auth/login",
            None,
            Some(json!({"email": "ada@example.com", "password": "wrong-password"})),
        )
        .await;
    assert_eq!(bad.status, 401);
    let pair = system
        .login("ada@example.com", "correct-horse-battery")
        .await;
    let user = pair["access_token"].as_str().unwrap().to_owned();
    let me = http.call("GET", "/auth/me", Some(&user), None).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["email"], "ada@example.com");
    let admin = system.login(ADMIN_EMAIL, ADMIN_PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Customers: reads and writes need a token.
    assert_eq!(http.call("GET", "/customers", None, None).await.status, 401);
    let list = http
        .call(
            "GET",
            "/customers?limit=5&country=Germany",
            Some(&user),
            None,
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body["total"].as_u64().unwrap() > 0);
    assert!(list.body["data"].as_array().unwrap().len() <= 5);
    let search = http
        .call("GET", "/customers?q=alfreds", Some(&user), None)
        .await;
    assert_eq!(
        search.body["data"][0]["customer_id"], "ALFKI",
        "{}",
        search.body
    );
    let one = http
        .call("GET", "/customers/ALFKI", Some(&user), None)
        .await;
    assert_eq!(one.status, 200);
    assert_eq!(
        http.call("GET", "/customers/ZZZZZ", Some(&user), None)
            .await
            .status,
        404
    );
    let created = http
        .call(
            "POST",
            "/customers",
            Some(&user),
            Some(json!({"customer_id": "NATST", "company_name": "natstack"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let again = http
        .call(
            "POST",
            "/customers",
            Some(&user),
            Some(json!({"customer_id": "NATST", "company_name": "natstack"})),
        )
        .await;
    assert_eq!(again.status, 409);
    let invalid = http
        .call(
            "POST",
            "/customers",
            Some(&user),
            Some(json!({"customer_id": "NATSX", "company_name": ""})),
        )
        .await;
    assert_eq!(invalid.status, 422, "{}", invalid.body);
    let patched = http
        .call(
            "PATCH",
            "/customers/NATST",
            Some(&user),
            Some(json!({"city": "Berlin"})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["city"], "Berlin");
    let refused = http
        .call("DELETE", "/customers/NATST", Some(&user), None)
        .await;
    assert_eq!(refused.status, 403);
    let deleted = http
        .call("DELETE", "/customers/NATST", Some(&admin), None)
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        http.call("GET", "/customers/NATST", Some(&user), None)
            .await
            .status,
        404
    );

    // Products, categories, suppliers.
    let list = http
        .call("GET", "/products?q=chai", Some(&user), None)
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body["total"].as_u64().unwrap() >= 1);
    assert_eq!(
        http.call("GET", "/products/1", Some(&user), None)
            .await
            .status,
        200
    );
    assert_eq!(
        http.call("GET", "/categories", Some(&user), None)
            .await
            .status,
        200
    );
    assert_eq!(
        http.call("GET", "/suppliers", Some(&user), None)
            .await
            .status,
        200
    );
    let created = http
        .call(
            "POST",
            "/products",
            Some(&user),
            Some(json!({"product_name": "Gateway Tea", "category_id": 1, "supplier_id": 1})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["product_id"].as_i64().unwrap();
    let patched = http
        .call(
            "PATCH",
            &format!("/products/{id}"),
            Some(&user),
            Some(json!({"discontinued": true})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["discontinued"], true);
    assert_eq!(
        http.call("DELETE", &format!("/products/{id}"), Some(&user), None)
            .await
            .status,
        403
    );
    assert_eq!(
        http.call("DELETE", &format!("/products/{id}"), Some(&admin), None)
            .await
            .status,
        204
    );
    assert_eq!(
        http.call("GET", "/products/not-a-number", Some(&user), None)
            .await
            .status
            / 100,
        4
    );

    // Refresh rotates; a reused refresh token is refused; logout revokes.
    let refresh = pair["refresh_token"].as_str().unwrap();
    let renewed = http
        .call(
            "POST",
            "/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let reused = http
        .call(
            "POST",
            "/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(reused.status, 401);
    let pair = system
        .login("ada@example.com", "correct-horse-battery")
        .await;
    let refresh = pair["refresh_token"].as_str().unwrap();
    let out = http
        .call(
            "POST",
            "/auth/logout",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(out.status, 204);
    let after = http
        .call(
            "POST",
            "/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(after.status, 401);

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
    drop(system);
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
    let login = |http: Http| async move {
        let reply = http
            .call(
                "POST",
                "/auth/login",
                None,
                Some(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
            )
            .await;
        (reply.status == 200).then(|| reply.body["access_token"].as_str().unwrap().to_owned())
    };
    let probe = http.clone();
    wait_until("auth is routed and logs in", WAIT, || {
        let http = probe.clone();
        async move { login(http).await.is_some() }
    })
    .await;
    let old = login(http.clone()).await.unwrap();
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
    let probe = http.clone();
    wait_until("the rotated auth instance logs in", WAIT, || {
        let http = probe.clone();
        async move { login(http).await.is_some() }
    })
    .await;
    let new = login(http.clone()).await.unwrap();
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
