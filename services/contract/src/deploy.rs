//! The deployment contract: the names the operator renders and the binaries read.
//!
//! Environment variable names, default ports and addresses, health paths, the built-in service
//! names and the default token issuer and audience. Both sides import these constants, so a
//! rename is one edit here, and the operator's env-contract test (every rendered variable is one
//! the target binary reads, every variable a binary requires is rendered) checks the rest.

/// Environment variables, by the binaries that read them.
pub mod env {
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
    /// Address of `/livez`, `/readyz` and `/metrics` (every binary).
    pub const HEALTH_ADDR: &str = "HEALTH_ADDR";
    /// PostgreSQL URL of a service's own database (customers, products).
    pub const DATABASE_URL: &str = "DATABASE_URL";
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
    /// Lifetime of an access token in minutes (auth).
    pub const ACCESS_TOKEN_TTL_MINUTES: &str = "ACCESS_TOKEN_TTL_MINUTES";
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
    /// The services the gateway discovers and the path prefixes each owns, e.g.
    /// `auth=/auth,/.well-known/jwks.json;orders=/orders` (gateway; syntax in
    /// [`crate::routes`]).
    pub const ROUTE_OWNERS: &str = "ROUTE_OWNERS";
}

/// Port of `/livez`, `/readyz` and `/metrics` in every binary.
pub const HEALTH_PORT: u16 = 9090;
/// [`HEALTH_PORT`] on every interface: the default of [`env::HEALTH_ADDR`].
pub const DEFAULT_HEALTH_ADDR: &str = "0.0.0.0:9090";
/// Port of the gateway's HTTP API.
pub const GATEWAY_HTTP_PORT: u16 = 8080;
/// [`GATEWAY_HTTP_PORT`] on every interface: the default of [`env::LISTEN_ADDR`].
pub const DEFAULT_LISTEN_ADDR: &str = "0.0.0.0:8080";
/// NATS client port.
pub const NATS_PORT: u16 = 4222;
/// The NATS clients' own default inbox prefix (the default of [`env::NATS_INBOX_PREFIX`]).
pub const DEFAULT_INBOX_PREFIX: &str = "_INBOX";
/// The default of [`env::NATS_URL`] (a server on this machine).
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
/// The gateway's default service-call deadline in milliseconds.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 5_000;
/// The gateway's default [`env::RATE_LIMITS`]: on, and generous, per user (else client
/// address). A person never comes near them; a script flooding registrations (each an
/// argon2 hash) or writes does.
pub const DEFAULT_RATE_LIMITS: &str = "auth=2/s:burst 20,write=50/s:burst 100,read=200/s:burst 400";

/// How long one readiness check of `/readyz` may take before it counts as failed, in
/// milliseconds; the operator's probes wait longer than this.
pub const READINESS_CHECK_TIMEOUT_MS: u64 = 2_000;

/// Liveness path (the process runs).
pub const LIVEZ_PATH: &str = "/livez";
/// Readiness path (connected to NATS and its database, registered).
pub const READYZ_PATH: &str = "/readyz";
/// Prometheus metrics path.
pub const METRICS_PATH: &str = "/metrics";

/// The auth service's name (Services API name, NATS subject prefix, component name).
pub const AUTH: &str = "auth";
/// The customers service's name.
pub const CUSTOMERS: &str = "customers";
/// The products service's name.
pub const PRODUCTS: &str = "products";
/// The gateway's component name (and NATS user).
pub const GATEWAY: &str = "gateway";

/// The gateway's default [`env::ROUTE_OWNERS`]: the built-in services and their paths
/// ([`crate::routes::RouteOwners::builtin`]).
pub const DEFAULT_ROUTE_OWNERS: &str = "auth=/.well-known/jwks.json,/auth;customers=/customers;products=/categories,/products,/suppliers";

/// The `iss` auth puts in access tokens and the gateway requires, unless configured otherwise.
pub const DEFAULT_ISSUER: &str = "natstack-auth";
/// The `aud` auth puts in access tokens and the gateway requires, unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "natstack";

/// auth's default argon2id memory cost per hash in KiB (19 MiB, the OWASP minimum).
pub const DEFAULT_ARGON2_MEMORY_KIB: u32 = 19_456;
/// Memory auth needs besides its hashing slots: the process at rest plus its runtime under load
/// (worker and blocking-pool threads, NATS and MongoDB buffers), with room to spare. Measured:
/// 18 MiB resident at rest, a peak of 95 MiB with 4 slots under 64 concurrent logins.
pub const AUTH_BASE_MEMORY_BYTES: u64 = 48 * 1024 * 1024;

/// How many password hashes auth may run at once within `memory_limit` bytes: what is left
/// after [`AUTH_BASE_MEMORY_BYTES`], divided by the memory of one hash; at least 1. The operator
/// renders `ARGON2_MAX_CONCURRENT` with it, and auth uses it for its own default.
#[must_use]
pub fn argon2_slots(memory_limit: u64, memory_kib: u64) -> u64 {
    let per_hash = memory_kib.max(1).saturating_mul(1024);
    (memory_limit.saturating_sub(AUTH_BASE_MEMORY_BYTES) / per_hash).max(1)
}

/// Memory the gateway needs besides its connections and request bodies: the process at rest
/// plus its runtime under load (worker threads, the NATS connection, route table, limiter
/// state), with room to spare. Measured: 15 MiB resident at rest (debug build).
pub const GATEWAY_BASE_MEMORY_BYTES: u64 = 32 * 1024 * 1024;
/// The most one client connection costs the gateway without a body: a full read buffer
/// (16 KiB, an unfinished head), hyper's connection and the connection's task, rounded up.
/// Measured: 22–27 KiB a connection with 1,000 heads of 15 KiB held (41 MiB resident).
pub const GATEWAY_CONNECTION_BYTES: u64 = 48 * 1024;
/// The gateway's connection cap when nothing sizes it (`MAX_CONNECTIONS`).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4096;
/// The gateway's request-body budget when nothing sizes it (`BODY_BUDGET_BYTES`).
pub const DEFAULT_BODY_BUDGET_BYTES: u64 = 64 * 1024 * 1024;
/// The gateway's per-address connection cap (`MAX_CONNECTIONS_PER_ADDRESS`).
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: u32 = 64;

/// The gateway's limits that follow from its memory limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayMemory {
    /// `MAX_CONNECTIONS`.
    pub max_connections: u32,
    /// `BODY_BUDGET_BYTES`.
    pub body_budget_bytes: u64,
}

/// The connection cap and request-body budget that keep the gateway within `memory_limit`
/// bytes. A quarter of what is left after [`GATEWAY_BASE_MEMORY_BYTES`] holds request bodies
/// (a body is held up to twice while it becomes the NATS message), the rest connections at
/// [`GATEWAY_CONNECTION_BYTES`] each:
///
/// ```text
/// free              = memory_limit − GATEWAY_BASE_MEMORY_BYTES
/// BODY_BUDGET_BYTES = free / 8            (held twice: a quarter of free)
/// MAX_CONNECTIONS   = (free − 2 × BODY_BUDGET_BYTES) / GATEWAY_CONNECTION_BYTES
/// ```
///
/// At the operator's default of 128 MiB: a 12 MiB budget and 1,536 connections. Never below
/// 1 MiB of budget or 64 connections (a limit that small is not a working gateway anyway).
#[must_use]
pub fn gateway_memory(memory_limit: u64) -> GatewayMemory {
    let free = memory_limit.saturating_sub(GATEWAY_BASE_MEMORY_BYTES);
    let body_budget_bytes = (free / 8).max(1024 * 1024);
    let connections = free.saturating_sub(2 * body_budget_bytes) / GATEWAY_CONNECTION_BYTES;
    GatewayMemory {
        max_connections: u32::try_from(connections)
            .unwrap_or(u32::MAX)
            .clamp(64, 1_000_000),
        body_budget_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_addresses_use_the_default_ports() {
        assert!(DEFAULT_HEALTH_ADDR.ends_with(&format!(":{HEALTH_PORT}")));
        assert!(DEFAULT_LISTEN_ADDR.ends_with(&format!(":{GATEWAY_HTTP_PORT}")));
        assert!(DEFAULT_NATS_URL.ends_with(&format!(":{NATS_PORT}")));
    }

    #[test]
    fn argon2_slots_fit_the_memory_limit() {
        const MIB: u64 = 1024 * 1024;
        assert_eq!(argon2_slots(128 * MIB, 19_456), 4);
        assert_eq!(argon2_slots(32 * MIB, 19_456), 1, "at least one");
        assert_eq!(argon2_slots(1024 * MIB, 19_456), 51);
    }

    #[test]
    fn gateway_limits_fit_the_memory_limit() {
        const MIB: u64 = 1024 * 1024;
        let at_default = gateway_memory(128 * MIB);
        assert_eq!(at_default.body_budget_bytes, 12 * MIB);
        assert_eq!(at_default.max_connections, 1536);
        let worst = GATEWAY_BASE_MEMORY_BYTES
            + 2 * at_default.body_budget_bytes
            + u64::from(at_default.max_connections) * GATEWAY_CONNECTION_BYTES;
        assert!(worst <= 128 * MIB, "{worst}");
        assert_eq!(gateway_memory(16 * MIB).max_connections, 64, "at least 64");
        assert_eq!(gateway_memory(16 * MIB).body_budget_bytes, MIB);
    }
}
