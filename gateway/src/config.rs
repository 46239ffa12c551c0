//! The gateway's configuration: clap flags with environment fallbacks (the names in
//! `contract::deploy::env`).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use contract::deploy::{self, DEFAULT_AUDIENCE, DEFAULT_ISSUER, env};
use contract::routes::RouteOwners;
use runtime::config::CommonArgs;

/// Everything the gateway binary takes.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = deploy::GATEWAY, version, about = "natstack HTTP gateway")]
pub struct Cli {
    /// Gateway settings.
    #[command(flatten)]
    pub gateway: GatewayArgs,
    /// NATS, telemetry and health settings shared by every binary.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The gateway's own settings.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// Address the HTTP API listens on.
    #[arg(long, env = env::LISTEN_ADDR, default_value = deploy::DEFAULT_LISTEN_ADDR)]
    pub listen_addr: SocketAddr,
    /// Allowed CORS origins, comma-separated; `*` allows any. CORS is off when unset.
    #[arg(long, env = env::CORS_ORIGINS)]
    pub cors_origins: Option<String>,
    /// Deadline of one call to a service, in milliseconds.
    #[arg(long, env = env::REQUEST_TIMEOUT_MS, default_value_t = deploy::DEFAULT_REQUEST_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..=300_000))]
    pub request_timeout_ms: u64,
    /// Largest accepted request body, in bytes (never above the NATS server's max_payload).
    #[arg(long, env = env::MAX_BODY_BYTES, default_value_t = deploy::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// The services discovery asks for (`$SRV.INFO.<name>`) and the path prefixes each owns,
    /// e.g. `auth=/auth,/.well-known/jwks.json;orders=/orders`: a service's claim of a path
    /// outside its prefixes is refused.
    #[arg(long, env = env::ROUTE_OWNERS, default_value = deploy::DEFAULT_ROUTE_OWNERS,
          value_parser = RouteOwners::parse)]
    pub route_owners: RouteOwners,
    /// Request-body bytes held at once across all connections; beyond it 503.
    #[arg(long, env = env::BODY_BUDGET_BYTES, default_value_t = crate::admission::DEFAULT_BODY_BUDGET_BYTES,
          value_parser = clap::value_parser!(u64).range(1024..))]
    pub body_budget_bytes: u64,
    /// How often discovery polls `$SRV.INFO`, in milliseconds.
    #[arg(long, env = env::DISCOVERY_INTERVAL_MS, default_value_t = deploy::DEFAULT_DISCOVERY_INTERVAL_MS,
          value_parser = clap::value_parser!(u64).range(50..=600_000))]
    pub discovery_interval_ms: u64,
    /// The `iss` every token must carry.
    #[arg(long, env = env::JWT_ISSUER, default_value = DEFAULT_ISSUER)]
    pub jwt_issuer: String,
    /// The `aud` every token must carry.
    #[arg(long, env = env::JWT_AUDIENCE, default_value = DEFAULT_AUDIENCE)]
    pub jwt_audience: String,
    /// Verified access tokens remembered until they expire (0: verify every request).
    #[arg(long, env = env::TOKEN_CACHE_SIZE, default_value_t = deploy::DEFAULT_TOKEN_CACHE_SIZE)]
    pub token_cache_size: usize,
    /// Time a client has to send a request's headers, in milliseconds; also the longest a
    /// kept-alive connection may sit idle.
    #[arg(long, env = env::HEADER_READ_TIMEOUT_MS, default_value_t = deploy::DEFAULT_HEADER_READ_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub header_read_timeout_ms: u64,
    /// Time a client has to send a request's body, in milliseconds (408 after it).
    #[arg(long, env = env::BODY_READ_TIMEOUT_MS, default_value_t = deploy::DEFAULT_BODY_READ_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub body_read_timeout_ms: u64,
    /// Client connections open at once; beyond it a new connection is closed at once.
    #[arg(long, env = env::MAX_CONNECTIONS, default_value_t = crate::server::DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Client connections open at once from one address (the socket's peer; peers among the
    /// trusted proxies are not capped); beyond it a new connection is closed at once.
    #[arg(long, env = env::MAX_CONNECTIONS_PER_ADDRESS,
          default_value_t = contract::deploy::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections_per_address: u32,
    /// Rate limits per route class (`auth`, `write`, `read`), e.g.
    /// `auth=10/s:burst 20,write=50/s,read=200/s`; `off` limits nothing.
    #[arg(long, env = env::RATE_LIMITS, default_value = deploy::DEFAULT_RATE_LIMITS,
          value_parser = crate::limit::Quotas::parse)]
    pub rate_limits: crate::limit::Quotas,
    /// Proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-For` names the
    /// client; from anyone else the header is ignored.
    #[arg(long, env = env::TRUSTED_PROXIES, default_value = "",
          value_parser = crate::limit::config::parse_trusted_proxies)]
    pub trusted_proxies: TrustedProxies,
    /// Proxied requests in flight at once; beyond it the gateway answers 503 at once.
    #[arg(long, env = env::MAX_IN_FLIGHT, default_value_t = crate::limit::DEFAULT_MAX_IN_FLIGHT,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_in_flight: u32,
    /// Where `/metrics` and `/services` answer: `health` (only on the health listener,
    /// `HEALTH_ADDR`) or `admin` (there, and on the API port for a token with the admin role).
    #[arg(long, env = env::OPS_ENDPOINTS, default_value = "health", value_enum)]
    pub ops_endpoints: OpsEndpoints,
    /// Events older than this many seconds are removed from the `EVENTS` stream.
    #[arg(long, env = env::EVENTS_MAX_AGE_SECS, default_value_t = contract::events::DEFAULT_MAX_AGE_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub events_max_age_secs: u64,
    /// Bytes of events the `EVENTS` stream keeps; the oldest are removed beyond it.
    #[arg(long, env = env::EVENTS_MAX_BYTES, default_value_t = contract::events::DEFAULT_MAX_BYTES,
          value_parser = clap::value_parser!(i64).range(1024..))]
    pub events_max_bytes: i64,
    /// Copies of the `EVENTS` stream (1, or 3 with three NATS servers).
    #[arg(long, env = env::EVENTS_REPLICAS, default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=5))]
    pub events_replicas: u32,
    /// `GET /events` streams open at once per user; beyond it 429.
    #[arg(long, env = env::EVENTS_MAX_STREAMS_PER_USER, default_value_t = deploy::DEFAULT_EVENTS_MAX_STREAMS_PER_USER,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub events_max_streams_per_user: u32,
    /// `GET /events` streams open at once in all; beyond it 503.
    #[arg(long, env = env::EVENTS_MAX_STREAMS, default_value_t = deploy::DEFAULT_EVENTS_MAX_STREAMS,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub events_max_streams: u32,
    /// Milliseconds between heartbeat comments on an idle `GET /events` stream.
    #[arg(long, env = env::EVENTS_HEARTBEAT_MS, default_value_t = deploy::DEFAULT_EVENTS_HEARTBEAT_MS,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub events_heartbeat_ms: u64,
    /// Events held for a client that reads too slowly before its stream is cut.
    #[arg(long, env = env::EVENTS_BUFFER, default_value_t = deploy::DEFAULT_EVENTS_BUFFER,
          value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub events_buffer: u64,
    /// Serve the interactive API page `/docs` (`on`/`off`).
    #[arg(long, env = env::API_DOCS, default_value = "on", action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub api_docs: bool,
}

/// Where the operational endpoints (`/metrics`, `/services`) answer. `/openapi.json` is not
/// one of them: it describes only what any client may call, and stays public on the API port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OpsEndpoints {
    /// Only on the health listener, which a cluster keeps off its public Service.
    #[default]
    Health,
    /// On the health listener, and on the API port to callers with the admin role.
    Admin,
}

/// The parsed `TRUSTED_PROXIES` (a named type, so clap does not read it as a list flag).
pub type TrustedProxies = Vec<ipnet::IpNet>;

/// The resolved configuration `run` works with.
#[derive(Debug, Clone)]
pub struct Config {
    /// How to reach NATS.
    pub nats: runtime::config::NatsArgs,
    /// CORS policy.
    pub cors: Cors,
    /// Deadline of one service call.
    pub request_timeout: Duration,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Request-body bytes held at once across all connections.
    pub body_budget_bytes: u64,
    /// Discovery settings.
    pub discovery: DiscoveryConfig,
    /// Token issuer.
    pub jwt_issuer: String,
    /// Token audience.
    pub jwt_audience: String,
    /// JWKS cache timing.
    pub jwks: crate::jwks::JwksConfig,
    /// Revocation-list polling.
    pub revoked: crate::revoked::RevokedConfig,
    /// Verified tokens remembered (0: none).
    pub token_cache_size: usize,
    /// Limits on client connections.
    pub server: crate::server::Limits,
    /// Rate limits and load shedding of proxied requests.
    pub limits: crate::limit::LimitConfig,
    /// Where `/metrics` and `/services` answer.
    pub ops: OpsEndpoints,
    /// Whether `/docs` is served.
    pub docs: bool,
    /// `GET /events` and the stream behind it.
    pub events: crate::events::EventsConfig,
}

/// Which origins may call the API from a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// No CORS headers at all.
    Off,
    /// Any origin (`*`).
    Any,
    /// These origins exactly.
    Origins(Vec<String>),
}

impl Cors {
    /// Parses `CORS_ORIGINS`: unset or blank → off; a `*` entry → any; otherwise the list.
    pub fn parse(value: Option<&str>) -> Self {
        let origins: Vec<String> = value
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| o.trim_end_matches('/').to_owned())
            .collect();
        if origins.is_empty() {
            Self::Off
        } else if origins.iter().any(|o| o == "*") {
            Self::Any
        } else {
            Self::Origins(origins)
        }
    }
}

/// How discovery runs.
#[derive(Debug, Clone)]
pub struct DiscoveryConfig {
    /// The services asked (each by name) and the path prefixes each owns.
    pub owners: RouteOwners,
    /// Time between polls.
    pub interval: Duration,
    /// Polls an instance may miss before it stops being routed.
    pub missed_polls: u32,
    /// Least time between two extra polls triggered by requests (route misses, no responders).
    pub trigger_throttle: Duration,
}

impl DiscoveryConfig {
    /// Discovery of the built-in services polling every `interval`, dropping instances after
    /// 3 missed polls.
    pub fn every(interval: Duration) -> Self {
        Self {
            owners: RouteOwners::builtin(),
            interval,
            missed_polls: 3,
            trigger_throttle: interval.min(Duration::from_secs(1)),
        }
    }
}

impl Config {
    /// A configuration for NATS at `url` with every other setting at its default, except rate
    /// limits: off here (tests that exercise them set them), on in the binary's defaults.
    pub fn new(nats: runtime::config::NatsArgs) -> Self {
        Self {
            nats,
            cors: Cors::Off,
            request_timeout: Duration::from_millis(deploy::DEFAULT_REQUEST_TIMEOUT_MS),
            max_body_bytes: deploy::DEFAULT_MAX_BODY_BYTES,
            body_budget_bytes: crate::admission::DEFAULT_BODY_BUDGET_BYTES,
            discovery: DiscoveryConfig::every(Duration::from_millis(
                deploy::DEFAULT_DISCOVERY_INTERVAL_MS,
            )),
            jwt_issuer: DEFAULT_ISSUER.to_owned(),
            jwt_audience: DEFAULT_AUDIENCE.to_owned(),
            jwks: crate::jwks::JwksConfig::default(),
            revoked: crate::revoked::RevokedConfig::default(),
            token_cache_size: deploy::DEFAULT_TOKEN_CACHE_SIZE,
            server: crate::server::Limits::default(),
            limits: crate::limit::LimitConfig::default(),
            ops: OpsEndpoints::Health,
            docs: true,
            events: crate::events::EventsConfig::default(),
        }
    }
}

impl From<&Cli> for Config {
    fn from(cli: &Cli) -> Self {
        let g = &cli.gateway;
        Self {
            nats: cli.common.nats.clone(),
            cors: Cors::parse(g.cors_origins.as_deref()),
            request_timeout: Duration::from_millis(g.request_timeout_ms),
            max_body_bytes: g.max_body_bytes,
            body_budget_bytes: g.body_budget_bytes,
            discovery: DiscoveryConfig {
                owners: g.route_owners.clone(),
                ..DiscoveryConfig::every(Duration::from_millis(g.discovery_interval_ms))
            },
            jwt_issuer: g.jwt_issuer.clone(),
            jwt_audience: g.jwt_audience.clone(),
            jwks: crate::jwks::JwksConfig::default(),
            revoked: crate::revoked::RevokedConfig::default(),
            token_cache_size: g.token_cache_size,
            server: crate::server::Limits {
                header_read_timeout: Duration::from_millis(g.header_read_timeout_ms),
                body_read_timeout: Duration::from_millis(g.body_read_timeout_ms),
                max_connections: g.max_connections,
                max_connections_per_address: g.max_connections_per_address,
            },
            limits: crate::limit::LimitConfig {
                rates: g.rate_limits.clone(),
                trusted_proxies: g.trusted_proxies.clone(),
                max_in_flight: g.max_in_flight,
            },
            ops: g.ops_endpoints,
            docs: g.api_docs,
            events: crate::events::EventsConfig {
                stream: contract::events::StreamSettings {
                    max_age_secs: g.events_max_age_secs,
                    max_bytes: g.events_max_bytes,
                    replicas: g.events_replicas as usize,
                },
                max_streams_per_user: g.events_max_streams_per_user,
                max_streams: g.events_max_streams,
                heartbeat: Duration::from_millis(g.events_heartbeat_ms),
                buffer: usize::try_from(g.events_buffer).unwrap_or(usize::MAX),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn cors_origins_parse() {
        assert_eq!(Cors::parse(None), Cors::Off);
        assert_eq!(Cors::parse(Some(" , ")), Cors::Off);
        assert_eq!(Cors::parse(Some("https://a.example, *")), Cors::Any);
        assert_eq!(
            Cors::parse(Some("https://a.example/, http://b.example:3000")),
            Cors::Origins(vec![
                "https://a.example".into(),
                "http://b.example:3000".into()
            ])
        );
    }

    #[test]
    fn defaults_match_the_design() {
        let cli = Cli::try_parse_from(["gateway"]).unwrap();
        assert_eq!(cli.gateway.listen_addr.port(), 8080);
        let config = Config::from(&cli);
        assert_eq!(config.request_timeout, Duration::from_secs(5));
        assert_eq!(config.max_body_bytes, 1024 * 1024);
        assert_eq!(config.cors, Cors::Off);
        assert_eq!(config.jwt_issuer, "natstack-auth");
        assert_eq!(config.jwt_audience, "natstack");
        assert_eq!(config.token_cache_size, 4096);
        assert_eq!(config.server, crate::server::Limits::default());
        // Rate limits are on by default; everything else is `LimitConfig`'s default.
        let limits = &config.limits;
        assert!(limits.rates.auth.is_some() && limits.rates.write.is_some());
        assert!(limits.rates.read.is_some());
        assert_eq!(
            crate::limit::LimitConfig {
                rates: crate::limit::Quotas::OFF,
                ..limits.clone()
            },
            crate::limit::LimitConfig::default()
        );
        let off = Cli::try_parse_from(["gateway", "--rate-limits", "off"]).unwrap();
        assert_eq!(Config::from(&off).limits.rates, crate::limit::Quotas::OFF);
        assert!(config.docs, "the API page is on by default");
        assert_eq!(config.events, crate::events::EventsConfig::default());
        assert_eq!(
            config.ops,
            OpsEndpoints::Health,
            "operational endpoints off the API"
        );
        let admin = Cli::try_parse_from(["gateway", "--ops-endpoints", "admin"]).unwrap();
        assert_eq!(Config::from(&admin).ops, OpsEndpoints::Admin);
        assert!(Cli::try_parse_from(["gateway", "--ops-endpoints", "all"]).is_err());
        let off = Cli::try_parse_from(["gateway", "--api-docs", "off"]).unwrap();
        assert!(!Config::from(&off).docs);
        let cli = Cli::try_parse_from([
            "gateway",
            "--rate-limits",
            "auth=5/m",
            "--trusted-proxies",
            "10.0.0.0/8",
        ])
        .unwrap();
        let config = Config::from(&cli);
        assert!(config.limits.rates.auth.is_some());
        assert_eq!(config.limits.trusted_proxies.len(), 1);
        assert!(Cli::try_parse_from(["gateway", "--rate-limits", "auth=5"]).is_err());
        assert!(Cli::try_parse_from(["gateway", "--request-timeout-ms", "0"]).is_err());
        assert_eq!(config.discovery.owners, RouteOwners::builtin());
        let error = Cli::try_parse_from(["gateway", "--route-owners", "auth=/a;orders=/a/b"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("overlaps"), "{error}");
    }
}
