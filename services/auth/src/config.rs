//! The auth service's configuration: flags with environment fallbacks (the names in
//! `contract::deploy::env`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use contract::deploy::{self, env};
use runtime::config::SecretString;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, Args)]
pub struct Argon2Args {
    /// Argon2id memory cost in KiB (OWASP: at least 19456).
    #[arg(long, env = env::ARGON2_MEMORY_KIB, default_value_t = deploy::DEFAULT_ARGON2_MEMORY_KIB)]
    pub argon2_memory_kib: u32,
    /// Argon2id iterations (time cost).
    #[arg(long, env = env::ARGON2_ITERATIONS, default_value_t = deploy::DEFAULT_ARGON2_ITERATIONS)]
    pub argon2_iterations: u32,
    /// Argon2id lanes (parallelism).
    #[arg(long, env = env::ARGON2_PARALLELISM, default_value_t = deploy::DEFAULT_ARGON2_PARALLELISM)]
    pub argon2_parallelism: u32,
    /// Hashes computed at once. Each holds the memory cost, so this times `ARGON2_MEMORY_KIB`
    /// bounds the service's hashing memory; more logins than this wait their turn. Default:
    /// the number of cores, but no more than the container's memory limit (cgroup) has room
    /// for after a base of 48 MiB. The operator renders it from the pod's memory limit.
    #[arg(long, env = env::ARGON2_MAX_CONCURRENT, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub argon2_max_concurrent: Option<u32>,
}

impl Argon2Args {
    /// Hashes allowed to run at once: `argon2_max_concurrent` when set, otherwise
    /// [`default_slots`] for this machine's cores and this process's cgroup memory limit.
    pub fn slots(&self) -> usize {
        self.argon2_max_concurrent.map_or_else(
            || {
                let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
                default_slots(cores, cgroup_memory_limit(), self.argon2_memory_kib)
            },
            |n| n.max(1) as usize,
        )
    }
}

/// One slot per core, but no more than `memory_limit` (when there is one) holds after
/// [`contract::deploy::AUTH_BASE_MEMORY_BYTES`] at `memory_kib` per hash; at least 1.
pub fn default_slots(cores: usize, memory_limit: Option<u64>, memory_kib: u32) -> usize {
    let fits = memory_limit.map_or(usize::MAX, |limit| {
        let slots = deploy::argon2_slots(limit, u64::from(memory_kib));
        usize::try_from(slots).unwrap_or(usize::MAX)
    });
    cores.min(fits).max(1)
}

/// The memory limit of this process's cgroup (v2 `memory.max`, or v1 `memory.limit_in_bytes`),
/// if it has one.
fn cgroup_memory_limit() -> Option<u64> {
    ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| text.trim().parse::<u64>().ok())
        // cgroup v1 reports "no limit" as a page-rounded i64::MAX.
        .filter(|&limit| limit < 1 << 62)
}

/// Failed-login throttling (see `crate::throttle` for the scheme).
#[derive(Debug, Clone, Copy, Args)]
pub struct ThrottleArgs {
    /// Failed logins per (account, client address) pair within the window before that pair
    /// is locked.
    #[arg(long, env = env::LOGIN_MAX_FAILURES, default_value_t = deploy::DEFAULT_LOGIN_MAX_FAILURES)]
    pub login_max_failures: u32,
    /// The window failures are counted in, in seconds.
    #[arg(long, env = env::LOGIN_WINDOW_SECS, default_value_t = deploy::DEFAULT_LOGIN_WINDOW_SECS)]
    pub login_window_secs: u64,
    /// How long a locked (account, client address) pair is refused, in seconds.
    #[arg(long, env = env::LOGIN_LOCKOUT_SECS, default_value_t = deploy::DEFAULT_LOGIN_LOCKOUT_SECS)]
    pub login_lockout_secs: u64,
    /// Failed logins per account (over every address) or per address (over every account)
    /// within the window before attempts touching it are delayed.
    #[arg(long, env = env::LOGIN_DELAY_AFTER, default_value_t = deploy::DEFAULT_LOGIN_DELAY_AFTER)]
    pub login_delay_after: u32,
    /// The longest progressive delay, in milliseconds: the `Retry-After` of a delayed attempt,
    /// rounded up to whole seconds.
    #[arg(long, env = env::LOGIN_MAX_DELAY_MS, default_value_t = deploy::DEFAULT_LOGIN_MAX_DELAY_MS,
          value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub login_max_delay_ms: u64,
    /// Password checks under way at once for one account, in each of two lanes (first
    /// attempts of an address, and the rest); more are answered 429 with `Retry-After: 1`.
    #[arg(long, env = env::LOGIN_MAX_CONCURRENT, default_value_t = deploy::DEFAULT_LOGIN_MAX_CONCURRENT,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub login_max_concurrent: u32,
}

impl Default for ThrottleArgs {
    fn default() -> Self {
        Self {
            login_max_failures: deploy::DEFAULT_LOGIN_MAX_FAILURES,
            login_window_secs: deploy::DEFAULT_LOGIN_WINDOW_SECS,
            login_lockout_secs: deploy::DEFAULT_LOGIN_LOCKOUT_SECS,
            login_delay_after: deploy::DEFAULT_LOGIN_DELAY_AFTER,
            login_max_delay_ms: deploy::DEFAULT_LOGIN_MAX_DELAY_MS,
            login_max_concurrent: deploy::DEFAULT_LOGIN_MAX_CONCURRENT,
        }
    }
}

/// Everything the auth service needs besides the settings every service shares
/// (`runtime::config::CommonArgs`). The MongoDB URL may carry credentials and the admin
/// password is a secret: both are `SecretString`s, which `Debug` shows redacted.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// MongoDB connection string (`mongodb://…` or `mongodb+srv://…`; TLS with `tls=true`,
    /// a CA of one's own with `tlsCAFile=`).
    #[arg(
        long,
        env = env::MONGODB_URL,
        default_value = deploy::DEFAULT_MONGODB_URL,
        hide_env_values = true
    )]
    pub mongodb_url: SecretString,
    /// The database holding `users`, `refresh_tokens` and `token_families`; when unset, the
    /// database named in `MONGODB_URL`'s path, else `auth`.
    #[arg(long, env = env::MONGODB_DATABASE)]
    pub mongodb_database: Option<String>,
    /// PKCS#8 PEM file with the Ed25519 signing key; without it an ephemeral key is generated
    /// (development only: tokens die with the process and differ per replica).
    #[arg(long, env = env::JWT_PRIVATE_KEY_FILE)]
    pub jwt_private_key_file: Option<PathBuf>,
    /// Comma-separated PEM files of earlier keys (PKCS#8 private or SPKI public) whose public
    /// halves stay in the JWKS during a rotation, so tokens they signed keep verifying.
    #[arg(long, env = env::JWT_PREVIOUS_KEY_FILES, value_delimiter = ',')]
    pub jwt_previous_key_files: Vec<PathBuf>,
    /// The `iss` claim.
    #[arg(long, env = env::JWT_ISSUER, default_value = deploy::DEFAULT_ISSUER)]
    pub jwt_issuer: String,
    /// The `aud` claim.
    #[arg(long, env = env::JWT_AUDIENCE, default_value = deploy::DEFAULT_AUDIENCE)]
    pub jwt_audience: String,
    /// Access-token lifetime in minutes.
    #[arg(long, env = env::ACCESS_TOKEN_TTL_MINUTES, default_value_t = deploy::DEFAULT_ACCESS_TOKEN_TTL_MINUTES,
          value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub access_token_ttl_minutes: u64,
    /// Refresh-token lifetime in days.
    #[arg(long, env = env::REFRESH_TOKEN_TTL_DAYS, default_value_t = deploy::DEFAULT_REFRESH_TOKEN_TTL_DAYS,
          value_parser = clap::value_parser!(u64).range(1..=365))]
    pub refresh_token_ttl_days: u64,
    /// Email of the administrator account ensured at start-up (with `ADMIN_PASSWORD`).
    #[arg(long, env = env::ADMIN_EMAIL)]
    pub admin_email: Option<String>,
    /// Password of that account, used only when the account is created.
    #[arg(long, env = env::ADMIN_PASSWORD, hide_env_values = true)]
    pub admin_password: Option<SecretString>,
    /// Password hashing cost.
    #[command(flatten)]
    pub argon2: Argon2Args,
    /// Login throttling.
    #[command(flatten)]
    pub throttle: ThrottleArgs,
}

impl Config {
    /// A configuration with every default, for `mongodb_url`.
    pub fn new(mongodb_url: impl Into<String>) -> Self {
        Self {
            mongodb_url: SecretString::from(Into::<String>::into(mongodb_url)),
            mongodb_database: None,
            jwt_private_key_file: None,
            jwt_previous_key_files: Vec::new(),
            jwt_issuer: deploy::DEFAULT_ISSUER.to_owned(),
            jwt_audience: deploy::DEFAULT_AUDIENCE.to_owned(),
            access_token_ttl_minutes: deploy::DEFAULT_ACCESS_TOKEN_TTL_MINUTES,
            refresh_token_ttl_days: deploy::DEFAULT_REFRESH_TOKEN_TTL_DAYS,
            admin_email: None,
            admin_password: None,
            argon2: Argon2Args {
                argon2_memory_kib: deploy::DEFAULT_ARGON2_MEMORY_KIB,
                argon2_iterations: deploy::DEFAULT_ARGON2_ITERATIONS,
                argon2_parallelism: deploy::DEFAULT_ARGON2_PARALLELISM,
                argon2_max_concurrent: None,
            },
            throttle: ThrottleArgs::default(),
        }
    }

    /// The access-token lifetime.
    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl_minutes * 60)
    }

    /// The refresh-token lifetime.
    pub fn refresh_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_token_ttl_days * 86_400)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn flags_parse_and_secrets_stay_out_of_debug() {
        let cli = Cli::try_parse_from([
            "auth",
            "--mongodb-url",
            "mongodb://user:s3cret@db:27017",
            "--jwt-previous-key-files",
            "a.pem,b.pem",
            "--admin-email",
            "root@example.com",
            "--admin-password",
            "hunter22hunter22",
            "--access-token-ttl-minutes",
            "5",
        ])
        .unwrap();
        let config = cli.config;
        assert_eq!(config.jwt_previous_key_files.len(), 2);
        assert_eq!(config.access_ttl(), Duration::from_secs(300));
        assert_eq!(config.refresh_ttl(), Duration::from_secs(14 * 86_400));
        assert_eq!(config.jwt_issuer, deploy::DEFAULT_ISSUER);
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("s3cret") && !debug.contains("hunter22"),
            "{debug}"
        );
        assert!(Cli::try_parse_from(["auth", "--access-token-ttl-minutes", "0"]).is_err());
        assert!(Cli::try_parse_from(["auth", "--refresh-token-ttl-days", "x"]).is_err());
    }

    #[test]
    fn default_slots_fit_the_memory_limit() {
        const MIB: u64 = 1024 * 1024;
        // 16 cores under 128 MiB: (128 - 48) MiB / 19 MiB per hash.
        assert_eq!(default_slots(16, Some(128 * MIB), 19_456), 4);
        assert_eq!(
            default_slots(2, Some(128 * MIB), 19_456),
            2,
            "cores bound too"
        );
        assert_eq!(default_slots(16, Some(32 * MIB), 19_456), 1, "at least one");
        assert_eq!(
            default_slots(16, None, 19_456),
            16,
            "no limit: one per core"
        );
        assert_eq!(default_slots(0, None, 19_456), 1);
    }
}
