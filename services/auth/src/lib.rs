//! The natstack auth service: accounts on MongoDB, argon2id passwords, EdDSA access tokens,
//! rotating refresh tokens with reuse detection, and the JWKS the gateway verifies with.
//!
//! [`run`] is the whole server: `main` only parses configuration and sets up telemetry, so
//! tests run exactly this code against real NATS and MongoDB-wire servers.
//!
//! Operations (`contract::auth`): `auth.register`, `auth.login`, `auth.refresh`,
//! `auth.logout`, `auth.me`, `auth.jwks`, `auth.delete_user` (admin), and the internal
//! `auth.revoked`. The gateway verifies access tokens with `runtime::jwt::Verifier` against the
//! JWKS from `auth.jwks`, and refuses those of the deleted accounts `auth.revoked` lists.
//!
//! Configuration ([`Config`], flags with environment fallbacks), besides the shared
//! `NATS_*`, `LOG_FORMAT`, `OTEL_EXPORTER_OTLP_ENDPOINT`, `HEALTH_ADDR`:
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `MONGODB_URL` | `mongodb://127.0.0.1:27017` | the server: `mongodb://` or `mongodb+srv://`, with `tls=true`, `tlsCAFile=` as needed |
//! | `MONGODB_DATABASE` | the URL's database, else `auth` | collections `users`, `refresh_tokens`, `token_families`, `revoked_users` |
//! | `JWT_PRIVATE_KEY_FILE` | none: ephemeral key, warning | PKCS#8 PEM Ed25519 signing key |
//! | `JWT_PREVIOUS_KEY_FILES` | none | comma-separated PEM files (private or public) still published during a rotation |
//! | `JWT_ISSUER` / `JWT_AUDIENCE` | `natstack-auth` / `natstack` | `iss` / `aud` |
//! | `ACCESS_TOKEN_TTL_MINUTES` | 15 | access-token lifetime (1–1440) |
//! | `REFRESH_TOKEN_TTL_DAYS` | 14 | refresh-token lifetime (1–365) |
//! | `ADMIN_EMAIL` / `ADMIN_PASSWORD` | none | admin account ensured at start-up (both or neither) |
//! | `ARGON2_MEMORY_KIB` / `ARGON2_ITERATIONS` / `ARGON2_PARALLELISM` | 19456 / 2 / 1 | argon2id cost |
//! | `ARGON2_MAX_CONCURRENT` | cores, within the cgroup memory limit | hashes computed at once (memory: this × `ARGON2_MEMORY_KIB`) |
//! | `LOGIN_MAX_FAILURES` / `LOGIN_WINDOW_SECS` / `LOGIN_LOCKOUT_SECS` | 5 / 900 / 300 | lockout of one (account, client address) pair |
//! | `LOGIN_DELAY_AFTER` / `LOGIN_MAX_DELAY_MS` | 10 / 2000 | progressive delay per account and per address ([`throttle`]) |
//! | `LOGIN_MAX_CONCURRENT` | 4 | password checks at once per account, in each of two lanes ([`throttle`]) |
//!
//! Every registration is published as an `auth.user.registered` event on JetStream, with
//! the account in one atomic insert ([`events`]).
//!
//! Key rotation: make a new key (`openssl genpkey -algorithm ed25519`), mount it as
//! `JWT_PRIVATE_KEY_FILE` and the old one in `JWT_PREVIOUS_KEY_FILES`, roll out; the gateway
//! refetches the JWKS on the new `kid`. After one access-token lifetime, drop the old key.

pub mod bootstrap;
pub mod config;
pub mod events;
pub mod handlers;
pub mod keys;
pub mod metrics;
pub mod password;
pub mod store;
pub mod throttle;
pub mod tokens;
pub mod validate;

use std::future::Future;

use contract::auth::{DeleteUser, GetJwks, GetRevoked, Login, Logout, Me, Refresh, Register};
use runtime::ServiceBuilder;
use runtime::config::{ExposeSecret, NatsArgs};
use runtime::host::{Host, HostError};
use tokio::net::TcpListener;

pub use config::Config;
use handlers::{Auth, Inner};

/// The Services API name.
pub const SERVICE: &str = contract::deploy::AUTH;
/// The service version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// NATS, the health server or serving failed.
    #[error(transparent)]
    Host(#[from] HostError),
    /// MongoDB could not be set up.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The signing keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    /// The password hasher could not be set up.
    #[error(transparent)]
    Password(#[from] password::PasswordError),
    /// The admin account could not be ensured.
    #[error(transparent)]
    Bootstrap(#[from] bootstrap::BootstrapError),
}

/// Runs the auth service until `shutdown` resolves, on a [`Host`]: health on
/// `health_listener` at once (ready only while MongoDB answers); then it waits for MongoDB
/// (retrying while it is not up yet, or while its provisioning Job has not created the user
/// yet) and creates the indexes, loads the keys, ensures the admin account, registers with the
/// Services API, serves requests and drains on shutdown.
pub async fn run(
    nats: NatsArgs,
    config: Config,
    health_listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let store = store::Store::connect(
        config.mongodb_url.expose_secret(),
        config.mongodb_database.as_deref(),
    )
    .await?;
    let mut host = Host::new(SERVICE, &nats);
    let metrics = metrics::AuthMetrics::new(host.registry());
    let outbox = runtime::outbox::metrics::OutboxMetrics::new(host.registry());
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let relay = events::Relay::new(store.clone(), outbox, wake.clone());
    host = host.beside(move |client| relay.run(client));
    host.ready_when("mongodb", {
        let store = store.clone();
        move || {
            let store = store.clone();
            async move { store.ping().await.map_err(|e| e.to_string()) }
        }
    })
    .run(health_listener, shutdown, || async move {
        runtime::retry::with_backoff(
            "MongoDB not reachable (or the user not provisioned) yet",
            || store.ensure_indexes(),
            store::StoreError::is_unavailable,
        )
        .await?;
        store.backfill_username_keys().await?;
        let keys = keys::Keys::load(
            config.jwt_private_key_file.as_deref(),
            &config.jwt_previous_key_files,
        )?;
        let passwords =
            password::Passwords::new(config.argon2, metrics.verifications.clone()).await?;
        bootstrap::ensure_admin(&config, &store, &passwords).await?;
        let state = Auth::new(Inner {
            store,
            passwords,
            issuer: tokens::Issuer {
                keys,
                issuer: config.jwt_issuer.clone(),
                audience: config.jwt_audience.clone(),
                ttl: config.access_ttl(),
            },
            throttle: throttle::Throttle::new(config.throttle),
            refresh_ttl: config.refresh_ttl(),
            metrics,
            events: wake,
        });
        Ok(ServiceBuilder::new(
            SERVICE,
            VERSION,
            "Accounts, passwords, access and refresh tokens, JWKS",
            state,
        )
        .endpoint::<Register, _>(handlers::register)
        .endpoint::<Login, _>(handlers::login)
        .endpoint::<Refresh, _>(handlers::refresh)
        .endpoint::<Logout, _>(handlers::logout)
        .endpoint::<Me, _>(handlers::me)
        .endpoint::<GetJwks, _>(handlers::jwks)
        .endpoint::<DeleteUser, _>(handlers::delete_user)
        .endpoint::<GetRevoked, _>(handlers::revoked))
    })
    .await
}
