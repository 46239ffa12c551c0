//! Signed tokens for the tests, and a JWKS service whose keys a test rotates.

use super::*;

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
