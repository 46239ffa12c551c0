//! Spawning the real auth service against real nats-server and nx-27017, plus a log capture.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use auth::Config;
use contract::auth::{Jwks, LoginRequest, RegisterRequest, TokenPair, User};
use contract::{Envelope, Operation, RequestOf, ServiceError};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use runtime::test_support::{MongoServer, NatsServer, wait_until};
use runtime::{CallError, CallOptions, Caller};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Everything the service logged in this test process.
pub fn logs() -> String {
    String::from_utf8_lossy(&capture().lock().unwrap()).into_owned()
}

fn capture() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("trace,mongodb=debug,async_nats=debug,hyper=info,h2=info")
            .with_ansi(false)
            .with_writer(move || SharedWriter(writer.clone()))
            .try_init();
        buf
    })
}

struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A PKCS#8 PEM Ed25519 key written to a temp dir.
pub struct KeyFile {
    pub key: SigningKey,
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl KeyFile {
    pub fn new() -> Self {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, key.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes()).unwrap();
        Self {
            key,
            path,
            _dir: dir,
        }
    }

    pub fn pem(&self) -> String {
        self.key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string()
    }
}

/// Real servers for one test.
pub struct Servers {
    pub nats: NatsServer,
    pub mongo: MongoServer,
}

impl Servers {
    pub async fn start() -> Self {
        capture();
        let (nats, mongo) = tokio::join!(NatsServer::start(), MongoServer::start());
        Self {
            nats: nats.expect("nats-server starts"),
            mongo: mongo.expect("nx-27017 starts"),
        }
    }

    /// A test configuration: cheap argon2, a small throttle limit.
    pub fn config(&self) -> Config {
        let mut config = Config::new(self.nats.url(), self.mongo.url());
        config.argon2.argon2_memory_kib = 256;
        config.argon2.argon2_iterations = 1;
        config.throttle.login_max_failures = 3;
        config
    }

    pub async fn store(&self) -> auth::store::Store {
        auth::store::Store::connect(&self.mongo.url(), Some("auth"))
            .await
            .unwrap()
    }
}

/// A running auth service.
pub struct App {
    pub caller: Caller,
    pub health: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), auth::Error>>,
}

impl App {
    pub async fn spawn(servers: &Servers, config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let health = listener.local_addr().unwrap();
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(auth::run(config, listener, async move {
            let _ = rx.await;
        }));
        let caller = Caller::new(servers.nats.client().await).await.unwrap();
        let app = Self {
            caller,
            health,
            stop: Some(stop),
            task,
        };
        wait_until(
            "the auth service is ready",
            Duration::from_secs(30),
            || async { http_get(health, "/readyz").await.0 == 200 },
        )
        .await;
        app
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }

    pub async fn call<O: Operation>(&self, body: O::Body) -> Result<O::Response, ServiceError> {
        self.call_with::<O>(body, CallOptions::default()).await
    }

    pub async fn call_with<O: Operation>(
        &self,
        body: O::Body,
        options: CallOptions,
    ) -> Result<O::Response, ServiceError> {
        let envelope: RequestOf<O> = Envelope::body(body);
        match self.caller.call::<O>(&envelope, options).await {
            Ok(r) => Ok(r),
            Err(CallError::Service { error, .. }) => Err(error),
            Err(e) => panic!("transport failure: {e}"),
        }
    }

    /// Sends raw bytes to `subject`; returns the error or the JSON reply.
    pub async fn raw(
        &self,
        subject: &str,
        payload: &str,
    ) -> Result<serde_json::Value, ServiceError> {
        let reply = self
            .caller
            .request(subject, payload.to_owned().into(), CallOptions::default())
            .await
            .unwrap();
        match runtime::call::service_error(&reply) {
            Some(e) => Err(e),
            None => Ok(serde_json::from_slice(&reply.payload).unwrap_or(serde_json::Value::Null)),
        }
    }

    pub async fn register(
        &self,
        username: &str,
        email: &str,
        password: &str,
    ) -> Result<User, ServiceError> {
        self.call::<contract::auth::Register>(RegisterRequest {
            username: username.into(),
            email: email.into(),
            password: password.into(),
        })
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<TokenPair, ServiceError> {
        self.call::<contract::auth::Login>(LoginRequest {
            email: email.into(),
            password: password.into(),
        })
        .await
    }

    pub async fn jwks(&self) -> Jwks {
        self.call::<contract::auth::GetJwks>(()).await.unwrap()
    }

    /// The Prometheus text of the health server.
    pub async fn metrics(&self) -> String {
        http_get(self.health, "/metrics").await.1
    }

    /// The password verifications counted so far.
    pub async fn verifications(&self) -> u64 {
        let text = self.metrics().await;
        text.lines()
            .find(|l| l.starts_with("natstack_auth_password_verifications_total "))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no verification counter in {text}"))
    }
}

/// A minimal HTTP GET: status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return (0, String::new());
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
