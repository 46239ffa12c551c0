//! The one HTTP client of the test bed: [`Api`], a small JSON client of one gateway (the
//! launcher waits for routes with it, the end-to-end tests drive the API with it), and [`get`]
//! for health and metrics endpoints.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// A JSON client of one gateway (cheap to clone: the connection pool is shared).
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A response: status, headers and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body as JSON.
    pub body: Value,
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request could not be built (a bad path or method).
    #[error("invalid request: {0}")]
    Request(#[from] http::Error),
    /// Connecting, sending or receiving failed.
    #[error("{0}")]
    Transport(String),
    /// No response in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

impl Api {
    /// A client of the gateway at `base` (`http://host:port`).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The shared connection pool.
    pub(crate) fn client(&self) -> &Client<HttpConnector, Full<Bytes>> {
        &self.client
    }

    /// Sends `method path` with an optional bearer token and JSON body.
    pub async fn try_call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<Reply, HttpError> {
        self.try_call_with(method, path, token, &[], body).await
    }

    /// [`try_call`](Self::try_call) with more request headers.
    pub async fn try_call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Reply, HttpError> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let bytes = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        let (status, headers, body) = self.send(request, bytes).await?;
        Ok(Reply {
            status,
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        })
    }

    /// Sends `request` with `body`; the status, headers and body of the response (left as
    /// bytes: [`get`] wants text, not JSON).
    async fn send(
        &self,
        request: http::request::Builder,
        body: Bytes,
    ) -> Result<(u16, http::HeaderMap, Bytes), HttpError> {
        let request = request.body(Full::new(body))?;
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| HttpError::Timeout(REQUEST_TIMEOUT))?
            .map_err(|e| HttpError::Transport(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| HttpError::Transport(e.to_string()))?
            .to_bytes();
        Ok((parts.status.as_u16(), parts.headers, body))
    }

    /// [`try_call`](Self::try_call) for tests.
    ///
    /// # Panics
    /// When no response arrives.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.try_call(method, path, token, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// [`call`](Self::call) that asserts the answer is `status`, showing the body when not.
    ///
    /// # Panics
    /// When no response arrives, or another status does.
    pub async fn expect(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        status: u16,
    ) -> Reply {
        let reply = self.call(method, path, token, body).await;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
        reply
    }

    /// Waits until `GET path` answers `status` (routes appear once discovery sees the service).
    ///
    /// # Panics
    /// When it still answers something else after 60 s.
    pub async fn wait_for(&self, path: &str, token: Option<&str>, status: u16) -> Reply {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let reply = self.call("GET", path, token, None).await;
            if reply.status == status {
                return reply;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "GET {path} still answers {} after 60 s: {}",
                reply.status,
                reply.body
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Logs in as `email` through `POST /auth/login`, asking again until auth answers with a
    /// token (a system just started may not route it yet); the access token.
    ///
    /// # Errors
    /// [`HttpError::Timeout`] when no token came within `within`.
    pub async fn login_within(
        &self,
        email: &str,
        password: &str,
        within: Duration,
    ) -> Result<String, HttpError> {
        let body = serde_json::json!({ "email": email, "password": password });
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let reply = self
                .try_call("POST", "/auth/login", None, Some(body.clone()))
                .await;
            if let Ok(reply) = reply
                && let Some(token) = reply.body["access_token"].as_str()
            {
                return Ok(token.to_owned());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(HttpError::Timeout(within));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Whether the gateway's `/services` view routes every one of `subjects`.
    pub async fn routes_all(&self, subjects: &[String]) -> bool {
        let Ok(view) = self.try_call("GET", "/services", None, None).await else {
            return false;
        };
        let Some(routes) = view.body["routes"].as_array() else {
            return false;
        };
        subjects
            .iter()
            .all(|s| routes.iter().any(|r| r["subject"] == s.as_str()))
    }
}

/// A GET of `path` on `addr`, for health and metrics endpoints: the status (0 when nothing
/// answers) and the body as text.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let api = Api::new(&format!("http://{addr}"));
    let request = Request::get(format!("{}{path}", api.base));
    match api.send(request, Bytes::new()).await {
        Ok((status, _, body)) => (status, String::from_utf8_lossy(&body).into_owned()),
        Err(_) => (0, String::new()),
    }
}
