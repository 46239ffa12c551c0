//! Defaults a binary falls back to when its variable is unset, and that the operator's stack
//! defaults or the development launcher repeat: each value once.

/// [`super::HEALTH_PORT`] on every interface: the default of [`super::env::HEALTH_ADDR`].
pub const DEFAULT_HEALTH_ADDR: &str = "0.0.0.0:9090";
/// [`super::GATEWAY_HTTP_PORT`] on every interface: the default of [`super::env::LISTEN_ADDR`].
pub const DEFAULT_LISTEN_ADDR: &str = "0.0.0.0:8080";
/// The NATS clients' own default inbox prefix (the default of
/// [`super::env::NATS_INBOX_PREFIX`]).
pub const DEFAULT_INBOX_PREFIX: &str = "_INBOX";
/// The default of [`super::env::NATS_URL`] (a server on this machine).
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
/// The default of [`super::env::MONGODB_URL`] (a server on this machine).
pub const DEFAULT_MONGODB_URL: &str = "mongodb://127.0.0.1:27017";

/// How long one readiness check of `/readyz` may take before it counts as failed, in
/// milliseconds; the operator's probes wait longer than this.
pub const READINESS_CHECK_TIMEOUT_MS: u64 = 2_000;

/// The gateway's default service-call deadline in milliseconds (also the stack's default).
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 5_000;
/// The gateway's default largest request body: 1 MiB (also the stack's default).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// The gateway's default [`super::env::RATE_LIMITS`]: on, and generous, per user (else client
/// address). A person never comes near them; a script flooding registrations (each an
/// argon2 hash) or writes does.
pub const DEFAULT_RATE_LIMITS: &str = "auth=2/s:burst 20,write=50/s:burst 100,read=200/s:burst 400";
/// The gateway's default [`super::env::ROUTE_OWNERS`]: the built-in services and their paths
/// ([`crate::routes::RouteOwners::builtin`]).
pub const DEFAULT_ROUTE_OWNERS: &str = "auth=/.well-known/jwks.json,/auth;customers=/customers;products=/categories,/products,/suppliers";
/// The gateway's default [`super::env::DISCOVERY_INTERVAL_MS`].
pub const DEFAULT_DISCOVERY_INTERVAL_MS: u64 = 5_000;
/// The gateway's default [`super::env::HEADER_READ_TIMEOUT_MS`].
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// The gateway's default [`super::env::BODY_READ_TIMEOUT_MS`].
pub const DEFAULT_BODY_READ_TIMEOUT_MS: u64 = 10_000;
/// The gateway's default [`super::env::TOKEN_CACHE_SIZE`]: tokens remembered, a few hundred
/// bytes each.
pub const DEFAULT_TOKEN_CACHE_SIZE: usize = 4096;

/// The gateway's default [`super::env::EVENTS_MAX_STREAMS_PER_USER`]: a few browser tabs.
pub const DEFAULT_EVENTS_MAX_STREAMS_PER_USER: u32 = 4;
/// The gateway's default [`super::env::EVENTS_MAX_STREAMS`]: each open stream holds one
/// connection, one JetStream consumer and up to [`DEFAULT_EVENTS_BUFFER`] events, so with
/// events of about 1 KiB every stream's buffer full costs some 16 MiB.
pub const DEFAULT_EVENTS_MAX_STREAMS: u32 = 256;
/// The gateway's default [`super::env::EVENTS_HEARTBEAT_MS`]: well inside the idle timeouts
/// of common proxies (60 s).
pub const DEFAULT_EVENTS_HEARTBEAT_MS: u64 = 15_000;
/// The gateway's default [`super::env::EVENTS_BUFFER`]: events held for a slow client (a
/// client that keeps up holds none; one that stalls is cut before it costs more).
pub const DEFAULT_EVENTS_BUFFER: u64 = 64;

/// The `iss` auth puts in access tokens and the gateway requires, unless configured otherwise.
pub const DEFAULT_ISSUER: &str = "natstack-auth";
/// The `aud` auth puts in access tokens and the gateway requires, unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "natstack";

/// auth's default argon2id memory cost per hash in KiB (19 MiB, the OWASP minimum).
pub const DEFAULT_ARGON2_MEMORY_KIB: u32 = 19_456;
/// auth's default argon2id passes per hash.
pub const DEFAULT_ARGON2_ITERATIONS: u32 = 2;
/// auth's default argon2id lanes per hash.
pub const DEFAULT_ARGON2_PARALLELISM: u32 = 1;
/// auth's default access-token lifetime in minutes.
pub const DEFAULT_ACCESS_TOKEN_TTL_MINUTES: u64 = 15;
/// auth's default refresh-token lifetime in days.
pub const DEFAULT_REFRESH_TOKEN_TTL_DAYS: u64 = 14;
/// auth's default [`super::env::LOGIN_MAX_FAILURES`].
pub const DEFAULT_LOGIN_MAX_FAILURES: u32 = 5;
/// auth's default [`super::env::LOGIN_WINDOW_SECS`].
pub const DEFAULT_LOGIN_WINDOW_SECS: u64 = 900;
/// auth's default [`super::env::LOGIN_LOCKOUT_SECS`].
pub const DEFAULT_LOGIN_LOCKOUT_SECS: u64 = 300;
/// auth's default [`super::env::LOGIN_DELAY_AFTER`].
pub const DEFAULT_LOGIN_DELAY_AFTER: u32 = 10;
/// auth's default [`super::env::LOGIN_MAX_DELAY_MS`].
pub const DEFAULT_LOGIN_MAX_DELAY_MS: u64 = 2_000;
/// auth's default [`super::env::LOGIN_MAX_CONCURRENT`].
pub const DEFAULT_LOGIN_MAX_CONCURRENT: u32 = 4;

/// A PostgreSQL-backed service's default [`super::env::DATABASE_MAX_CONNECTIONS`].
pub const DEFAULT_DATABASE_MAX_CONNECTIONS: u32 = 10;

/// The ratio of new traces kept when a stack sets no `telemetry.sampling`
/// ([`super::env::OTEL_TRACES_SAMPLER_ARG`]): all of them.
pub const DEFAULT_TRACE_SAMPLING: f64 = 1.0;
/// The sampler the operator names in [`super::env::OTEL_TRACES_SAMPLER`]: keep what the
/// caller sampled, and a ratio of new traces.
pub const TRACE_SAMPLER: &str = "parentbased_traceidratio";
