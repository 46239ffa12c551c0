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

mod tokens;
mod widgets;

pub use tokens::*;
pub use widgets::*;

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

// ----- Everything together ----------------------------------------------------------------

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
