//! Running the real auth service ([`ServiceApp`]) against real nats-server and nx-27017, plus
//! a log capture.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use auth::Config;
use contract::auth::{
    Claims, Jwks, LoginRequest, RefreshRequest, RegisterRequest, TokenPair, User,
};
use contract::{Envelope, Operation, RequestOf, ServiceError};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use runtime::CallOptions;
use runtime::jwt::Verifier;
use runtime::test_support::{MongoServer, NatsOptions, NatsServer, ServiceApp};

pub use runtime::test_support::http_get;

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
        Self::start_with(NatsOptions::default()).await
    }

    /// With JetStream on (and no stream yet), for the events tests.
    pub async fn start_with_jetstream() -> Self {
        Self::start_with(NatsOptions {
            jetstream: true,
            ..NatsOptions::default()
        })
        .await
    }

    async fn start_with(options: NatsOptions) -> Self {
        capture();
        let (nats, mongo) = tokio::join!(NatsServer::start_with(options), MongoServer::start());
        Self {
            nats: nats.expect("nats-server starts"),
            mongo: mongo.expect("nx-27017 starts"),
        }
    }

    /// A test configuration: cheap argon2, small throttle limits and delays.
    pub fn config(&self) -> Config {
        let mut config = Config::new(self.mongo.url());
        config.argon2.argon2_memory_kib = 256;
        config.argon2.argon2_iterations = 1;
        config.throttle.login_max_failures = 3;
        // Delays that show in a test but keep it quick.
        config.throttle.login_delay_after = 4;
        config.throttle.login_max_delay_ms = 200;
        config
    }

    pub async fn store(&self) -> auth::store::Store {
        auth::store::Store::connect(&self.mongo.url(), Some("auth"))
            .await
            .unwrap()
    }
}

/// Runs the real auth service with `config` against `servers` and waits until it is ready.
pub async fn spawn(servers: &Servers, config: Config) -> ServiceApp {
    ServiceApp::start(&servers.nats, |nats, health, stop| {
        auth::run(nats, config, health, stop)
    })
    .await
}

fn refresh_request(token: &str) -> RefreshRequest {
    RefreshRequest {
        refresh_token: token.to_owned(),
    }
}

/// Starts the servers and the service with the test configuration ([`Servers::config`]).
pub async fn start() -> (Servers, ServiceApp) {
    let servers = Servers::start().await;
    let app = spawn(&servers, servers.config()).await;
    (servers, app)
}

/// The auth operations, called with a body and no caller identity (as the gateway sends
/// public requests).
pub trait AuthApp {
    /// Calls `O` with `body`.
    async fn send<O: Operation>(&self, body: O::Body) -> Result<O::Response, ServiceError> {
        self.send_with::<O>(body, CallOptions::default()).await
    }

    /// Calls `O` with `body` and `options`.
    async fn send_with<O: Operation>(
        &self,
        body: O::Body,
        options: CallOptions,
    ) -> Result<O::Response, ServiceError>;

    async fn register(
        &self,
        username: &str,
        email: &str,
        password: &str,
    ) -> Result<User, ServiceError> {
        self.send::<contract::auth::Register>(RegisterRequest {
            username: username.into(),
            email: email.into(),
            password: password.into(),
        })
        .await
    }

    /// Registers a user that the test needs to exist; a refusal fails the test.
    async fn registered(&self, username: &str, email: &str, password: &str) -> User {
        self.register(username, email, password).await.unwrap()
    }

    /// Registers a user whose email is taken: the refusal, checked to be a conflict.
    async fn register_conflict(&self, username: &str, email: &str, password: &str) -> ServiceError {
        let err = self.register(username, email, password).await.unwrap_err();
        assert_eq!(err.code, contract::ErrorCode::Conflict, "{err:?}");
        err
    }

    async fn login(&self, email: &str, password: &str) -> Result<TokenPair, ServiceError> {
        self.send::<contract::auth::Login>(LoginRequest {
            email: email.into(),
            password: password.into(),
        })
        .await
    }

    /// Registers a user, then signs them in.
    async fn sign_up(&self, username: &str, email: &str, password: &str) -> TokenPair {
        self.registered(username, email, password).await;
        self.login(email, password).await.unwrap()
    }

    /// Trades refresh token `token` for a new pair.
    async fn refresh(&self, token: &str) -> Result<TokenPair, ServiceError> {
        self.send::<contract::auth::Refresh>(refresh_request(token))
            .await
    }

    /// Ends the session of refresh token `token`.
    async fn logout(&self, token: &str) -> Result<(), ServiceError> {
        self.send::<contract::auth::Logout>(refresh_request(token))
            .await
    }

    async fn jwks(&self) -> Jwks {
        self.send::<contract::auth::GetJwks>(()).await.unwrap()
    }

    /// The claims of `access_token`, verified (default issuer and audience, no leeway) with
    /// the keys the service publishes.
    async fn claims(&self, access_token: &str) -> Claims {
        Verifier::new("natstack-auth", "natstack", Duration::ZERO)
            .verify(access_token, &self.jwks().await)
            .unwrap()
    }

    /// The password verifications counted so far.
    async fn verifications(&self) -> u64;
}

impl AuthApp for ServiceApp {
    async fn send_with<O: Operation>(
        &self,
        body: O::Body,
        options: CallOptions,
    ) -> Result<O::Response, ServiceError> {
        let envelope: RequestOf<O> = Envelope::body(body);
        self.call_with::<O>(&envelope, options).await
    }

    async fn verifications(&self) -> u64 {
        let text = self.metrics().await;
        text.lines()
            .find(|l| l.starts_with("natstack_auth_password_verifications_total "))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no verification counter in {text}"))
    }
}
