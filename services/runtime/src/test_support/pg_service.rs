//! A PostgreSQL-backed service under test: nats-server, PostgreSQL with a fresh database, and
//! the service running in-process through its own `run` function, called over NATS the way the
//! gateway calls it. Each service's tests implement [`PgService`] once and alias [`Env`] and
//! [`Instance`] to their type.

use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use contract::{Operation, RequestOf, ServiceError, headers};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{NatsServer, PgServer, http_get, wait_until};
use crate::config::NatsArgs;
use crate::pg::{PgArgs, RunError, ServiceConfig};
use crate::{CallError, CallOptions, Caller};

/// How long one call may take; generous, as the machine may be busy.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a service may take to become ready.
pub const READY: Duration = Duration::from_secs(30);

/// The future a service's `run` returns.
pub type RunFuture = Pin<Box<dyn Future<Output = Result<(), RunError>> + Send>>;

/// A database-backed service the harness can start.
pub trait PgService: Send + Sync + 'static {
    /// The name of the database the service owns.
    const DATABASE: &'static str;

    /// Runs the service (its `run` function) until `shutdown` resolves.
    fn run(
        config: ServiceConfig,
        health: TcpListener,
        shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> RunFuture;
}

/// Servers, a database and one running instance of service `S`.
pub struct Env<S: PgService> {
    /// The NATS server.
    pub nats: NatsServer,
    /// The PostgreSQL server.
    pub pg: PgServer,
    /// The URL of the service's database.
    pub database_url: String,
    /// A caller on its own connection.
    pub caller: Caller,
    /// The first instance.
    pub service: Instance<S>,
}

/// One running instance of service `S`.
pub struct Instance<S: PgService> {
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), RunError>>>,
    /// Where its health server listens.
    pub health: SocketAddr,
    service: PhantomData<S>,
}

impl<S: PgService> Instance<S> {
    /// Starts an instance against `database_url`; returns without waiting for readiness.
    pub async fn spawn(nats_url: &str, database_url: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let health = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let config = ServiceConfig {
            nats: NatsArgs::url(nats_url),
            database: PgArgs {
                database_url: database_url.into(),
                database_max_connections: 5,
            },
        };
        let shutdown = Box::pin(async move {
            let _ = rx.await;
        });
        let task = tokio::spawn(S::run(config, listener, shutdown));
        Self {
            shutdown: Some(tx),
            task: Some(task),
            health,
            service: PhantomData,
        }
    }

    /// The status of `/readyz`.
    pub async fn readyz(&self) -> u16 {
        http_get(self.health, "/readyz").await.0
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        wait_until("the service is ready", READY, || async {
            self.readyz().await == 200
        })
        .await;
    }

    /// Shuts the instance down and checks it stopped cleanly.
    pub async fn stop(&mut self) {
        let _ = self.shutdown.take().expect("running").send(());
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("the service stops within 20 s")
            .unwrap()
            .expect("the service stops without error");
    }
}

impl<S: PgService> Drop for Instance<S> {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl<S: PgService> Env<S> {
    /// Starts everything and waits until the service is ready.
    pub async fn start() -> Self {
        init_logs();
        let nats = NatsServer::start().await.expect("nats-server starts");
        let pg = PgServer::start().await.expect("PostgreSQL starts");
        let database_url = pg.create_database(S::DATABASE).await.unwrap();
        let service = Instance::spawn(&nats.url(), &database_url).await;
        service.wait_ready().await;
        let caller = Caller::new(nats.client().await).await.unwrap();
        Self {
            nats,
            pg,
            database_url,
            caller,
            service,
        }
    }

    /// Another instance on the same NATS and database.
    pub async fn spawn_instance(&self) -> Instance<S> {
        Instance::spawn(&self.nats.url(), &self.database_url).await
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
        match self.caller.call::<O>(&request, options).await {
            Ok(response) => Ok(response),
            Err(CallError::Service { error, .. }) => Err(error),
            Err(other) => panic!("{} failed in transport: {other}", O::subject()),
        }
    }

    /// Sends raw JSON to `subject` as an admin and returns the error the service answered.
    pub async fn raw_error(&self, subject: &str, json: &str) -> ServiceError {
        let options = CallOptions::timeout(CALL_TIMEOUT)
            .header(headers::USER_ID, "user-1")
            .header(headers::ROLES, "user,admin");
        let reply = self
            .caller
            .request(subject, json.as_bytes().to_vec().into(), options)
            .await
            .expect("a reply");
        crate::call::service_error(&reply).unwrap_or_else(|| {
            panic!(
                "expected an error from {subject} for {json}, got {}",
                String::from_utf8_lossy(&reply.payload)
            )
        })
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

/// Sends the service's logs to the test's output (shown when a test fails); `RUST_LOG`
/// overrides the level.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
