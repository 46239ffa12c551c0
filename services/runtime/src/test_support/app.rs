//! [`ServiceApp`]: one instance of a service under test, running its real `run` function
//! in-process against test servers, with a shutdown handle, its health address and a
//! [`Requester`] on a connection of its own to call it the way the gateway does.

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use contract::{Operation, RequestOf, ServiceError, headers};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{NatsServer, http_get, wait_until};
use crate::config::NatsArgs;
use crate::{CallError, CallOptions, Requester};

/// How long one call may take; generous, as the machine may be busy.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a service may take to become ready.
pub const READY: Duration = Duration::from_secs(30);

/// The shutdown signal a service under test runs until.
pub type Stop = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One running instance of a service; see the module docs. Dropping it aborts the service.
pub struct ServiceApp {
    /// A requester on its own NATS connection.
    pub requester: Requester,
    /// Where the instance's health server listens.
    pub health: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), String>>>,
}

impl std::fmt::Debug for ServiceApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceApp")
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}

impl ServiceApp {
    /// Runs `run` (the service's `run`, given NATS arguments for `nats`, a health listener and
    /// the shutdown signal) and returns without waiting for readiness.
    pub async fn spawn<F, Fut, E>(nats: &NatsServer, run: F) -> Self
    where
        F: FnOnce(NatsArgs, TcpListener, Stop) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display,
    {
        init_logs();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let health = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let signal: Stop = Box::pin(async move {
            let _ = stopped.await;
        });
        let running = run(NatsArgs::url(nats.url()), listener, signal);
        let task = tokio::spawn(async move { running.await.map_err(|e| e.to_string()) });
        let requester = Requester::new(nats.client().await).await.unwrap();
        Self {
            requester,
            health,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// [`ServiceApp::spawn`], then waits until the instance is ready.
    pub async fn start<F, Fut, E>(nats: &NatsServer, run: F) -> Self
    where
        F: FnOnce(NatsArgs, TcpListener, Stop) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display,
    {
        let app = Self::spawn(nats, run).await;
        app.wait_ready().await;
        app
    }

    /// The status of `/readyz` (0 when nothing answers).
    pub async fn readyz(&self) -> u16 {
        http_get(self.health, "/readyz").await.0
    }

    /// Waits until `/readyz` answers 200.
    ///
    /// Then it waits for one Services API ping answer on its own connection: the service
    /// flushed its subscriptions before reporting ready, but the NATS server may not have
    /// processed them yet, and a call in that moment meets "no responders". The server handles
    /// one connection's messages in order, so an answer the service sends after it is ready
    /// arrives only once its subscriptions are in place (exact when it is the only service on
    /// the server; with others, their instances already answer the calls).
    pub async fn wait_ready(&self) {
        wait_until("the service is ready", READY, || async {
            self.readyz().await == 200
        })
        .await;
        let options = crate::discover::GatherOptions {
            total: Duration::from_millis(500),
            stall: Duration::from_millis(50),
            max: 1,
        };
        wait_until("the service answers a ping", READY, || async {
            crate::discover::ping(self.requester.client(), None, options)
                .await
                .is_ok_and(|pings| !pings.is_empty())
        })
        .await;
    }

    /// Waits until `/readyz` answers 503: the instance runs but a dependency is down.
    pub async fn wait_unready(&self) {
        wait_until("the service reports not ready", READY, || async {
            self.readyz().await == 503
        })
        .await;
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        http_get(self.health, "/metrics").await.1
    }

    /// Whether the service has stopped by itself.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Shuts the instance down and checks it stopped cleanly within 20 s.
    pub async fn stop(mut self) {
        let _ = self.stop.take().expect("running").send(());
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("the service stops within 20 s")
            .unwrap()
            .expect("the service stops without error");
    }

    /// Waits (up to 20 s) for the instance to stop by itself, and returns how it ended.
    pub async fn exited(mut self) -> Result<(), String> {
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("the service stops by itself within 20 s")
            .unwrap()
    }

    /// Calls `O` with `options`; a transport failure panics.
    pub async fn call_with<O: Operation>(
        &self,
        request: &RequestOf<O>,
        options: CallOptions,
    ) -> Result<O::Response, ServiceError> {
        match self.requester.call::<O>(request, options).await {
            Ok(response) => Ok(response),
            Err(CallError::Service { error, .. }) => Err(error),
            Err(other) => panic!("{} failed in transport: {other}", O::subject()),
        }
    }

    /// Calls `O` as a signed-in user.
    pub async fn call<O: Operation>(
        &self,
        request: RequestOf<O>,
    ) -> Result<O::Response, ServiceError> {
        self.call_as::<O>(Some(&["user"]), request).await
    }

    /// Calls `O` as an admin.
    pub async fn admin<O: Operation>(
        &self,
        request: RequestOf<O>,
    ) -> Result<O::Response, ServiceError> {
        self.call_as::<O>(Some(&["user", "admin"]), request).await
    }

    /// Calls `O` with these roles, or with no caller identity at all.
    pub async fn call_as<O: Operation>(
        &self,
        roles: Option<&[&str]>,
        request: RequestOf<O>,
    ) -> Result<O::Response, ServiceError> {
        let mut options = CallOptions::timeout(CALL_TIMEOUT);
        if let Some(roles) = roles {
            options = options
                .header(headers::USER_ID, "user-1")
                .header(headers::ROLES, roles.join(","));
        }
        self.call_with::<O>(&request, options).await
    }

    /// Calls `O` as signed-in user `user` with `Idempotency-Key: key`: the answer, and
    /// whether the reply was marked as repeating an earlier result (`Idempotent-Replayed`).
    pub async fn call_keyed<O: Operation>(
        &self,
        user: &str,
        key: &str,
        request: &RequestOf<O>,
    ) -> (Result<O::Response, ServiceError>, bool) {
        let options = CallOptions::timeout(CALL_TIMEOUT)
            .header(headers::USER_ID, user)
            .header(headers::ROLES, "user")
            .header(headers::IDEMPOTENCY_KEY, key);
        let payload = serde_json::to_vec(request).expect("the request encodes");
        let reply = self
            .requester
            .request(&O::subject(), payload.into(), options)
            .await
            .unwrap_or_else(|e| panic!("{} failed in transport: {e}", O::subject()));
        let replayed = reply
            .headers
            .as_ref()
            .and_then(|h| h.get(headers::IDEMPOTENT_REPLAYED))
            .is_some_and(|v| v.as_str() == "true");
        let answer = match crate::call::error_of(&reply) {
            Some(error) => Err(error),
            None => Ok(serde_json::from_slice(&reply.payload).expect("a JSON reply")),
        };
        (answer, replayed)
    }

    /// Sends raw `payload` to `subject` without a caller identity: the error the service
    /// answered, or its JSON reply.
    pub async fn raw(
        &self,
        subject: &str,
        payload: &str,
    ) -> Result<serde_json::Value, ServiceError> {
        self.raw_with(subject, payload, CallOptions::timeout(CALL_TIMEOUT))
            .await
    }

    /// [`ServiceApp::raw`] with `options` (headers, timeout).
    pub async fn raw_with(
        &self,
        subject: &str,
        payload: &str,
        options: CallOptions,
    ) -> Result<serde_json::Value, ServiceError> {
        let reply = self
            .requester
            .request(subject, payload.to_owned().into(), options)
            .await
            .expect("a reply");
        match crate::call::error_of(&reply) {
            Some(error) => Err(error),
            None => Ok(serde_json::from_slice(&reply.payload).unwrap_or(serde_json::Value::Null)),
        }
    }

    /// Sends raw JSON to `subject` as an admin and returns the error the service answered.
    pub async fn raw_error(&self, subject: &str, json: &str) -> ServiceError {
        let options = CallOptions::timeout(CALL_TIMEOUT)
            .header(headers::USER_ID, "user-1")
            .header(headers::ROLES, "user,admin");
        match self.raw_with(subject, json, options).await {
            Err(error) => error,
            Ok(reply) => panic!("expected an error from {subject} for {json}, got {reply}"),
        }
    }
}

impl Drop for ServiceApp {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Asserts a 422 naming `field`.
#[track_caller]
pub fn assert_invalid(result: Result<impl std::fmt::Debug, ServiceError>, field: &str) {
    let err = result.expect_err("expected a validation error");
    assert_eq!(err.status(), 422, "{err:?}");
    assert!(
        err.field_errors().iter().any(|f| f.field == field),
        "no error on `{field}`: {err:?}"
    );
}

/// Asserts an error answered with HTTP status `status`, and returns it for what else the test
/// checks.
#[track_caller]
pub fn assert_status(
    result: Result<impl std::fmt::Debug, ServiceError>,
    status: u16,
) -> ServiceError {
    match result {
        Ok(answer) => panic!("expected an error with status {status}, got {answer:?}"),
        Err(err) => {
            assert_eq!(err.status(), status, "{err:?}");
            err
        }
    }
}

/// Sends the service's logs to the test's output (shown when a test fails), unless the test
/// installed a subscriber of its own first; `RUST_LOG` overrides the level.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
