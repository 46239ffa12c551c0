//! Test harness: the real gateway in-process, an HTTP client, test services, signed tokens.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use contract::auth::{Claims, GetJwks, Jwk, Jwks};
use contract::{Empty, Operation, ServiceError, operation};
use gateway::Config;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use runtime::config::NatsArgs;
pub use runtime::test_support::stub::Running;
use runtime::test_support::stub::{Gate, failure};
use runtime::test_support::wait_until;
use runtime::{RequestContext, ServiceBuilder};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const WAIT: Duration = Duration::from_secs(15);

// ----- HTTP client -------------------------------------------------------------------------

/// A reply as the client saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).expect("UTF-8 body")
    }

    /// Asserts the shared error shape and returns the code.
    pub fn error_code(&self) -> String {
        let body = self.json();
        assert!(body["message"].is_string(), "{body}");
        assert_eq!(
            body["request_id"].as_str(),
            self.header("x-request-id"),
            "error body carries the request id: {body}"
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        body["code"].as_str().expect("code").to_owned()
    }
    /// Asserts an error answer: `status`, the shared error shape and `code`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.error_code(), code);
    }
}

#[derive(Clone)]
pub struct Http {
    pub base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    pub fn new(base: String) -> Self {
        Self {
            base,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let response = self.client.request(request).await.expect("HTTP request");
        let (parts, body) = response.into_parts();
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: body.collect().await.expect("body").to_bytes(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[], None).await
    }

    /// `GET path` with `headers`.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send("GET", path, headers, None).await
    }

    pub async fn get_as(&self, path: &str, token: &str) -> Reply {
        let auth = format!("Bearer {token}");
        self.get_with(path, &[("authorization", &auth)]).await
    }

    pub async fn json(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(auth) = &auth {
            headers.push(("authorization", auth));
        }
        self.send(
            method,
            path,
            &headers,
            Some(serde_json::to_vec(body).unwrap()),
        )
        .await
    }

    /// `POST /widgets/fail`, anonymously: the widgets service answers with `status` and
    /// `message`, and the reply is what the gateway made of that.
    pub async fn fail(&self, status: u16, message: &str) -> Reply {
        let body = serde_json::json!({"status": status, "message": message});
        self.json("POST", "/widgets/fail", None, &body).await
    }
}

// ----- The gateway -------------------------------------------------------------------------

pub struct Gateway {
    pub http: Http,
    pub health: Http,
    shutdown: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<Result<(), gateway::Error>>,
}

/// The services the test gateways discover and the paths each owns.
pub const OWNERS: &str = "auth=/auth,/.well-known/jwks.json;widgets=/widgets;gadgets=/gadgets;garbage=/garbage;\
     products=/products";

/// A configuration for tests: fast discovery of the test services ([`OWNERS`]).
pub fn config(nats_url: &str) -> Config {
    let mut config = Config::new(NatsArgs::url(nats_url));
    config.discovery = gateway::config::DiscoveryConfig {
        owners: contract::routes::RouteOwners::parse(OWNERS).unwrap(),
        interval: Duration::from_millis(100),
        missed_polls: 3,
        trigger_throttle: Duration::from_millis(50),
    };
    config.jwt_issuer = ISSUER.into();
    config.jwt_audience = AUDIENCE.into();
    config
}

impl Gateway {
    pub async fn start(config: Config) -> Self {
        let gw = Self::spawn(config).await;
        let http = gw.http.clone();
        wait_until("the gateway is ready", WAIT, || {
            let http = http.clone();
            async move { http.get("/readyz").await.status == 200 }
        })
        .await;
        gw
    }

    /// Starts the gateway without waiting for it to be ready.
    pub async fn spawn(config: Config) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let health = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = Http::new(format!("http://{}", listener.local_addr().unwrap()));
        let health_http = Http::new(format!("http://{}", health.local_addr().unwrap()));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(gateway::run(config, listener, health, async move {
            let _ = rx.await;
        }));
        Self {
            http,
            health: health_http,
            shutdown: Some(tx),
            task,
        }
    }

    /// Waits until `subject` is routed.
    pub async fn wait_routed(&self, subject: &str) {
        let http = self.health.clone();
        wait_until(&format!("{subject} is routed"), WAIT, || {
            let http = http.clone();
            async move { routed(&http).await.contains(&subject.to_owned()) }
        })
        .await;
    }

    /// Waits until `subject` is no longer routed.
    pub async fn wait_unrouted(&self, subject: &str) {
        let http = self.health.clone();
        wait_until(&format!("{subject} is dropped"), WAIT, || {
            let http = http.clone();
            async move { !routed(&http).await.contains(&subject.to_owned()) }
        })
        .await;
    }

    pub fn begin_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub async fn stop(mut self) {
        self.begin_stop();
        self.task.await.unwrap().unwrap();
    }
}

async fn routed(http: &Http) -> Vec<String> {
    let reply = http.get("/services").await;
    if reply.status != 200 {
        return Vec::new();
    }
    reply.json()["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["subject"].as_str().unwrap().to_owned())
        .collect()
}

// ----- A test service ----------------------------------------------------------------------

/// What a widget endpoint saw, echoed back.
#[derive(Debug, Default, Serialize, Deserialize, contract::schemars::JsonSchema)]
#[schemars(crate = "contract::schemars")]
pub struct Seen {
    pub endpoint: String,
    pub params: HashMap<String, String>,
    pub query: HashMap<String, String>,
    pub body: Value,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
    pub roles: Vec<String>,
    pub traceparent: Option<String>,
}

type Params = contract::Params;
type Query = contract::Query;

operation! {
    /// List widgets
    pub ListWidgets: "widgets"."list", GET "/widgets", auth Public, status 200,
        params Empty, query Query, body (), response Seen;

    /// Search widgets
    pub SearchWidgets: "widgets"."search", GET "/widgets/search", auth Public, status 200,
        params Empty, query Query, body (), response Seen;

    /// Get a widget
    pub GetWidget: "widgets"."get", GET "/widgets/{id}", auth User, status 200,
        params Params, query Query, body (), response Seen;

    /// Create a widget
    pub CreateWidget: "widgets"."create", POST "/widgets", auth User, status 201,
        params Empty, query Query, body Value, response Seen;

    /// Delete a widget
    pub DeleteWidget: "widgets"."delete", DELETE "/widgets/{id}", auth Admin, status 204,
        params Params, query Query, body (), response ();

    /// Fail as asked
    pub FailWidget: "widgets"."fail", POST "/widgets/fail", auth Public, status 200,
        params Empty, query Empty, body FailBody, response ();

    /// Wait at the gate
    pub SlowWidget: "widgets"."slow", GET "/widgets/slow", auth Public, status 200,
        params Empty, query Empty, body (), response String
}

#[derive(Debug, Default, Serialize, Deserialize, contract::schemars::JsonSchema)]
#[schemars(crate = "contract::schemars")]
pub struct FailBody {
    pub status: u16,
    pub message: String,
}

#[derive(Clone, Default)]
pub struct Widgets {
    pub gate: Gate,
    pub slow_started: Arc<AtomicUsize>,
}

impl Widgets {
    pub fn open_gate(&self) {
        self.gate.open();
    }
}

fn seen<P: Serialize, Q: Serialize>(
    endpoint: &str,
    ctx: &RequestContext,
    params: P,
    query: Q,
    body: Value,
) -> Seen {
    let to_map = |v: Value| serde_json::from_value(v).unwrap_or_default();
    Seen {
        endpoint: endpoint.into(),
        params: to_map(serde_json::to_value(params).unwrap()),
        query: to_map(serde_json::to_value(query).unwrap()),
        body,
        request_id: ctx.request_id.clone(),
        user_id: ctx.caller.as_ref().map(|c| c.user_id.clone()),
        roles: ctx
            .caller
            .as_ref()
            .map(|c| c.roles.clone())
            .unwrap_or_default(),
        traceparent: ctx
            .headers
            .get("traceparent")
            .map(|v| v.as_str().to_owned()),
    }
}

pub fn widgets(state: Widgets, version: &str) -> ServiceBuilder<Widgets> {
    ServiceBuilder::new("widgets", version, "gateway test service", state)
        .endpoint::<ListWidgets, _>(
            |_, ctx: RequestContext, r: contract::RequestOf<ListWidgets>| async move {
                Ok(seen("list", &ctx, r.params, r.query, Value::Null))
            },
        )
        .endpoint::<SearchWidgets, _>(
            |_, ctx: RequestContext, r: contract::RequestOf<SearchWidgets>| async move {
                Ok(seen("search", &ctx, r.params, r.query, Value::Null))
            },
        )
        .endpoint::<GetWidget, _>(
            |_, ctx: RequestContext, r: contract::RequestOf<GetWidget>| async move {
                if r.params.get("id").map(String::as_str) == Some("missing") {
                    return Err(ServiceError::not_found("no such widget"));
                }
                Ok(seen("get", &ctx, r.params, r.query, Value::Null))
            },
        )
        .endpoint::<CreateWidget, _>(
            |_, ctx: RequestContext, r: contract::RequestOf<CreateWidget>| async move {
                Ok(seen("create", &ctx, r.params, r.query, r.body))
            },
        )
        .endpoint::<DeleteWidget, _>(
            |_, _: RequestContext, _: contract::RequestOf<DeleteWidget>| async move { Ok(()) },
        )
        .endpoint::<FailWidget, _>(
            |_, _: RequestContext, r: contract::RequestOf<FailWidget>| async move {
                Err(failure(r.body.status, r.body.message))
            },
        )
        .endpoint::<SlowWidget, _>(
            |state: Widgets, _: RequestContext, _: contract::RequestOf<SlowWidget>| async move {
                state.slow_started.fetch_add(1, Ordering::SeqCst);
                state.gate.wait().await;
                Ok("done".to_owned())
            },
        )
}

/// Waits until the server knows nobody serves `subject` any more (an unsubscribe travels
/// asynchronously after a service stops).
pub async fn wait_no_responders(client: &async_nats::Client, subject: &str) {
    wait_until(&format!("nobody serves {subject}"), WAIT, || {
        let client = client.clone();
        let subject = subject.to_owned();
        async move {
            let request = async_nats::Request::new().timeout(Some(Duration::from_millis(500)));
            matches!(
                client.send_request(subject, request).await,
                Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders
            )
        }
    })
    .await;
}

pub async fn start_widgets(client: &async_nats::Client, state: Widgets) -> Running {
    Running::spawn(widgets(state, "1.0.0").start(client).await.unwrap())
}

/// A raw Services API service whose endpoint answers with bytes that are not JSON: a cut-off
/// object, or (when the query says `kind=utf8`) a well-formed object whose string is not UTF-8.
pub async fn start_garbage(client: &async_nats::Client) -> JoinHandle<()> {
    use async_nats::service::ServiceExt;
    use futures::StreamExt;
    let service = client
        .service_builder()
        .queue_group("q")
        .start("garbage", "1.0.0")
        .await
        .unwrap();
    let mut endpoint = service
        .endpoint_builder()
        .name("get")
        .metadata(HashMap::from([
            ("http.method".to_owned(), "GET".to_owned()),
            ("http.path".to_owned(), "/garbage".to_owned()),
            ("auth".to_owned(), "public".to_owned()),
        ]))
        .add("garbage.get")
        .await
        .unwrap();
    client.flush().await.unwrap();
    tokio::spawn(async move {
        let _service = service;
        while let Some(request) = endpoint.next().await {
            let reply: &'static [u8] = if request.message.payload.windows(4).any(|w| w == b"utf8") {
                b"{\"name\":\"caf\xe9\"}"
            } else {
                b"{not json"
            };
            let _ = request.respond(Ok(Bytes::from_static(reply))).await;
        }
    })
}

// ----- Tokens and a JWKS service -----------------------------------------------------------

pub const ISSUER: &str = "test-issuer";
pub const AUDIENCE: &str = "test-audience";

/// Two fixed Ed25519 keys (PKCS#8 PEM) and their public halves (base64url).
pub const KEY_A: &str = "-----BEGIN PRIVATE KEY-----\n\
    MC4CAQAwBQYDK2VwBCIEIHngP3uc7hMENG70ZNVMAdhr22BNO/IPd5oHFLh8hRpe\n\
    -----END PRIVATE KEY-----\n";
pub const X_A: &str = "HuCbC8g1w_CpRtemBcaF7jit7mnt5SS7qmfuekMNFfQ";
pub const KEY_B: &str = "-----BEGIN PRIVATE KEY-----\n\
    MC4CAQAwBQYDK2VwBCIEIILe/5knyzbUd4QxTipCPyHo6qBJzMAsnlJTTOeiUo0g\n\
    -----END PRIVATE KEY-----\n";
pub const X_B: &str = "eiM4l5hArSbLEvZNMehP6jVGf8vt0AsktwZfqGMoOs8";

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn claims(sub: &str, roles: &[&str]) -> Claims {
    Claims {
        sub: sub.into(),
        email: format!("{sub}@example.com"),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        iat: now(),
        exp: now() + 300,
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        jti: uuid::Uuid::new_v4().to_string(),
    }
}

pub use runtime::jwt::sign;

pub fn user_token(sub: &str) -> String {
    sign(KEY_A, "a", &claims(sub, &["user"]))
}

pub fn admin_token(sub: &str) -> String {
    sign(KEY_A, "a", &claims(sub, &["user", "admin"]))
}

/// The JWKS a test "auth" service publishes, and how often it was fetched.
#[derive(Clone)]
pub struct KeyStore {
    pub jwks: Arc<Mutex<Jwks>>,
    pub fetches: Arc<AtomicUsize>,
    pub gate: Gate,
}

impl KeyStore {
    pub fn with_key_a() -> Self {
        Self {
            jwks: Arc::new(Mutex::new(Jwks {
                keys: vec![Jwk::ed25519(X_A, "a")],
            })),
            fetches: Arc::default(),
            gate: Gate::opened(),
        }
    }

    pub fn add_key_b(&self) {
        self.jwks.lock().unwrap().keys.push(Jwk::ed25519(X_B, "b"));
    }

    /// Publishes key `b` only: key `a` is withdrawn.
    pub fn withdraw_key_a(&self) {
        self.jwks.lock().unwrap().keys = vec![Jwk::ed25519(X_B, "b")];
    }

    pub fn open_gate(&self) {
        self.gate.open();
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn jwks_handler(
    store: KeyStore,
    _: RequestContext,
    _: contract::RequestOf<GetJwks>,
) -> Result<Jwks, ServiceError> {
    store.fetches.fetch_add(1, Ordering::SeqCst);
    store.gate.wait().await;
    Ok(store.jwks.lock().unwrap().clone())
}

/// A stand-in auth service serving only `auth.jwks`.
pub async fn start_keys(client: &async_nats::Client, store: KeyStore) -> Running {
    let service = ServiceBuilder::new("auth", "0.0.1", "test JWKS", store)
        .endpoint::<GetJwks, _>(jwks_handler)
        .start(client)
        .await
        .unwrap();
    Running::spawn(service)
}

/// Everything most tests need: NATS, the widgets service, the key service, the gateway.
pub struct World {
    _nats: runtime::test_support::NatsServer,
    pub client: async_nats::Client,
    pub widgets: Widgets,
    pub keys: KeyStore,
    pub gateway: Gateway,
    pub services: Vec<Running>,
}

impl World {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut Config)) -> Self {
        Self::start_on(runtime::test_support::NatsOptions::default(), tune).await
    }

    /// A world whose NATS server runs with `options` (JetStream, say).
    pub async fn start_on(
        options: runtime::test_support::NatsOptions,
        tune: impl FnOnce(&mut Config),
    ) -> Self {
        let nats = runtime::test_support::NatsServer::start_with(options)
            .await
            .unwrap();
        let client = nats.client().await;
        let widgets = Widgets::default();
        let keys = KeyStore::with_key_a();
        let services = vec![
            start_widgets(&client, widgets.clone()).await,
            start_keys(&client, keys.clone()).await,
        ];
        let mut config = config(&nats.url());
        tune(&mut config);
        let gateway = Gateway::start(config).await;
        gateway.wait_routed(&ListWidgets::subject()).await;
        Self {
            _nats: nats,
            client,
            widgets,
            keys,
            gateway,
            services,
        }
    }

    /// A world whose widgets service has stopped while the gateway still routes `subject`:
    /// discovery never drops an instance here, so the route stays while nobody answers.
    pub async fn start_unanswered(subject: &str) -> Self {
        let mut world = Self::start_with(|c| c.discovery.missed_polls = u32::MAX).await;
        world.services.remove(0).stop().await;
        wait_no_responders(&world.client, subject).await;
        world
    }

    pub fn http(&self) -> &Http {
        &self.gateway.http
    }

    /// Starts `service` beside the others and waits until the gateway routes `subject`.
    pub async fn serve<S: Clone + Send + Sync + 'static>(
        &self,
        service: ServiceBuilder<S>,
        subject: &str,
    ) -> Running {
        let running = Running::spawn(service.start(&self.client).await.unwrap());
        self.gateway.wait_routed(subject).await;
        running
    }

    pub async fn stop(self) {
        self.gateway.stop().await;
        for service in self.services {
            service.stop().await;
        }
    }
}
