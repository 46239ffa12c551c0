//! PostgreSQL plumbing shared by the services that own a database (customers, products).
//!
//! - [`PgArgs`]: `DATABASE_URL` and `DATABASE_MAX_CONNECTIONS`, to flatten into a binary's args;
//! - [`pool`]: a lazily connecting pool, so a service starts (not ready) before its database;
//! - [`migrate`]: runs embedded migrations, retrying with backoff while the database is
//!   unreachable or not provisioned yet (its role or database missing, the password not set),
//!   and failing at once on a real migration error (a modified migration);
//! - [`pool_metrics`]: the pool's connections in use, idle and at most, on `/metrics`;
//! - [`ping`]: the readiness check, which follows the database (not stale pooled connections);
//! - [`PgService`]: a service that owns a database, run the same way for each;
//! - [`list`]: one page of a filtered, sorted list, the same way for every table;
//! - [`row`]: row structs read by column position ([`row!`](crate::row)), not by name;
//! - [`found`]: a lookup's row, or 404 when there is none;
//! - [`reply_error`]: maps a sqlx error to the reply a client may see: unique violation →
//!   409, foreign-key/check/not-null violation and out-of-range values → 422 naming the field,
//!   an unreachable database or a server that is no longer the primary (a connection made
//!   before a failover, `25006`) → 503 "database unavailable" (`Retry-After: 1`), an exhausted id
//!   sequence or another database limit → 503 saying so (`Retry-After: 60`), anything else →
//!   500 with the cause logged, never sent.

pub mod list;
pub mod pool_metrics;
#[cfg(test)]
mod read_only_tests;
mod reply;
pub mod row;
mod service;

pub use reply::{
    LIMIT_RETRY_AFTER_SECS, READ_ONLY_SQLSTATE, UNAVAILABLE, found, is_unavailable, reply_error,
};
pub use service::PgService;

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tracing::info;

use self::reply::is_broken_connection;
use crate::config::{ExposeSecret, SecretString};

/// How long a request waits for a pooled connection before it is answered 503. Short, so an
/// outage turns into a prompt, clear error instead of a gateway timeout.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// How to reach the service's database. The URL may carry a password, so it is a
/// `SecretString`: `Debug` shows it redacted.
#[derive(Debug, Clone, clap::Args)]
pub struct PgArgs {
    /// PostgreSQL URL, e.g. `postgres://user:password@host:5432/customers`.
    #[arg(long, env = contract::deploy::env::DATABASE_URL, hide_env_values = true)]
    pub database_url: SecretString,
    /// Largest number of pooled connections.
    #[arg(long, env = contract::deploy::env::DATABASE_MAX_CONNECTIONS,
          default_value_t = contract::deploy::DEFAULT_DATABASE_MAX_CONNECTIONS)]
    pub database_max_connections: u32,
}

impl PgArgs {
    /// Arguments for `url` with the default pool size.
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            database_url: SecretString::from(Into::<String>::into(url)),
            database_max_connections: contract::deploy::DEFAULT_DATABASE_MAX_CONNECTIONS,
        }
    }
}

/// Why the database could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// `DATABASE_URL` is not a PostgreSQL URL.
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    Url(#[source] sqlx::Error),
    /// A migration failed for a reason retrying cannot fix.
    #[error("database migration failed: {0}")]
    Migrate(#[source] MigrateError),
}

/// A pool that connects on first use: creating it never touches the network, so a service
/// can start while its database is down.
///
/// Connections are not pinged before every use (sqlx's `test_before_acquire`, on by default):
/// that ping is a full round trip to PostgreSQL for every query, and `make bench` measured it
/// as the largest single cost of a read. Instead, so that a database restart does not leave
/// the pool full of dead connections that each fail one request:
///
/// - a connection idle for [`PING_WHEN_IDLE`] or more is pinged before use, and replaced by a
///   fresh one when the ping fails (a busy pool never pays for it; an idle service that
///   outlived a restart answers its first request from a fresh connection);
/// - once any ping or statement finds its connection broken ([`reply_error`], [`ping`]), every
///   connection opened before that moment is discarded on its next acquire instead of being
///   used, so one failure, not one per pooled connection, is what a restart costs;
/// - connections are closed after [`IDLE_TIMEOUT`] unused and [`MAX_LIFETIME`] in all.
pub fn pool(args: &PgArgs) -> Result<PgPool, PgError> {
    let options =
        PgConnectOptions::from_str(args.database_url.expose_secret()).map_err(PgError::Url)?;
    Ok(PgPoolOptions::new()
        .max_connections(args.database_max_connections.max(1))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .idle_timeout(IDLE_TIMEOUT)
        .max_lifetime(MAX_LIFETIME)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if broken::opened_before_last_break(meta.age) {
                    return Ok(false);
                }
                if meta.idle_for >= PING_WHEN_IDLE
                    && let Err(e) = sqlx::Connection::ping(conn).await
                {
                    // The error discards this connection; recording the break discards the
                    // others opened before it too, even those idle for less than the ping
                    // threshold, which the same restart broke just as surely.
                    broken::record();
                    return Err(e);
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options))
}

/// A pooled connection unused for this long is pinged before its next use.
pub const PING_WHEN_IDLE: Duration = Duration::from_secs(1);

/// A pooled connection unused for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A pooled connection is closed after this long, used or not.
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// When a connection was last seen broken, so that the connections opened before it (which
/// the same restart or network failure most likely broke too) are not used again.
///
/// Process-wide rather than per pool: [`reply_error`] sees an error, not its pool. A process
/// with several pools at worst reopens connections of a pool that was not affected.
mod broken {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    /// The process's record, which the pool and the error mapping share.
    static BREAKS: Breaks = Breaks::new();

    fn origin() -> Instant {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        *ORIGIN.get_or_init(Instant::now)
    }

    fn now() -> u64 {
        u64::try_from(origin().elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Records that a connection was found broken now.
    pub(super) fn record() {
        BREAKS.record();
    }

    /// Whether a connection of this age was opened before the last recorded break.
    pub(super) fn opened_before_last_break(age: Duration) -> bool {
        BREAKS.opened_before_last(age)
    }

    /// One record of the last break (a type, so a test can have one of its own).
    pub(super) struct Breaks {
        /// Microseconds since [`origin`] of the last break, plus one; 0: never.
        last: AtomicU64,
    }

    impl Breaks {
        pub(super) const fn new() -> Self {
            Self {
                last: AtomicU64::new(0),
            }
        }

        pub(super) fn record(&self) {
            self.last
                .fetch_max(now().saturating_add(1), Ordering::Relaxed);
        }

        pub(super) fn opened_before_last(&self, age: Duration) -> bool {
            let last = self.last.load(Ordering::Relaxed);
            if last == 0 {
                return false;
            }
            let age = u64::try_from(age.as_micros()).unwrap_or(u64::MAX);
            now().saturating_sub(age) < last
        }
    }
}

/// Runs `migrator` against `pool`, retrying with capped exponential backoff (100 ms to 5 s)
/// while the database is unreachable. Concurrent instances are safe: sqlx serialises them
/// with an advisory lock, and an applied migration is never run again.
pub async fn migrate(pool: &PgPool, migrator: &Migrator) -> Result<(), PgError> {
    crate::retry::with_backoff(
        "database unavailable or not provisioned yet; not ready, retrying",
        || migrator.run(pool),
        migration_is_transient,
    )
    .await
    .map_err(PgError::Migrate)?;
    info!(
        migrations = migrator.iter().count(),
        "database schema is up to date"
    );
    Ok(())
}

fn migration_is_transient(err: &MigrateError) -> bool {
    match err {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => is_unavailable(e),
        _ => false,
    }
}

/// The readiness check: a round trip to the database. Takes the pool by value (a cheap
/// handle) so `move || pg::ping(pool.clone())` is a check on its own.
///
/// When the round trip fails because its connection broke, it is tried once more on a fresh
/// connection: the database may be back while the pool still held connections from before,
/// and readiness should follow the database, not the pool's leftovers.
pub async fn ping(pool: PgPool) -> Result<(), String> {
    let select_one = || sqlx::query("SELECT 1").execute(&pool);
    let mut outcome = select_one().await;
    if let Err(e) = &outcome
        && is_broken_connection(e)
    {
        broken::record();
        outcome = select_one().await;
    }
    outcome.map(drop).map_err(|e| {
        if is_unavailable(&e) {
            UNAVAILABLE.to_owned()
        } else {
            format!("database check failed: {e}")
        }
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::binary::ServiceArgs;

    #[test]
    fn database_arguments_parse_with_defaults_and_stay_secret() {
        let args = ServiceArgs::<PgArgs>::try_parse_from([
            "svc",
            "--database-url",
            "postgres://u:pw@db/c",
        ])
        .unwrap();
        assert_eq!(args.own.database_max_connections, 10);
        assert_eq!(
            args.own.database_url.expose_secret(),
            "postgres://u:pw@db/c"
        );
        assert!(
            !format!("{:?}", args.own).contains("pw"),
            "Debug redacts the URL"
        );
        assert!(
            ServiceArgs::<PgArgs>::try_parse_from(["svc"]).is_err(),
            "DATABASE_URL is required"
        );
    }

    /// A service that starts before its provisioning Job has run sees its role and database
    /// missing (a password failure, then `3D000`): it keeps retrying, not ready, and migrates
    /// once they exist, instead of exiting into a crash loop.
    #[tokio::test]
    async fn migrations_wait_until_the_role_and_database_exist() {
        use crate::test_support::{PgOptions, PgServer};
        let pg = PgServer::start_with(PgOptions {
            hba: Some(
                "local all all trust\nhost all postgres 127.0.0.1/32 trust\n\
                 host all all 127.0.0.1/32 scram-sha-256\n"
                    .into(),
            ),
            tls: None,
        })
        .await
        .expect("postgres starts");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("1_init.sql"),
            "CREATE TABLE provisioned (id int)",
        )
        .unwrap();
        let migrator = Migrator::new(dir.path()).await.unwrap();
        let url = format!("postgres://late:pw-1@127.0.0.1:{}/late_db", pg.port());
        let pool = pool(&PgArgs::url(url)).unwrap();
        let migrating = tokio::spawn({
            let pool = pool.clone();
            async move { migrate(&pool, &migrator).await }
        });
        for step in [
            "CREATE ROLE late LOGIN PASSWORD 'pw-1'",
            "CREATE DATABASE late_db OWNER late",
        ] {
            tokio::time::sleep(Duration::from_millis(700)).await;
            assert!(!migrating.is_finished(), "gave up before: {step}");
            pg.psql("postgres", step).await.unwrap();
        }
        tokio::time::timeout(Duration::from_secs(30), migrating)
            .await
            .expect("migrates once provisioned")
            .unwrap()
            .expect("migrations succeed");
        assert_eq!(
            pg.psql("late_db", "SELECT count(*) FROM provisioned")
                .await
                .unwrap(),
            "0"
        );
    }

    #[test]
    fn connections_opened_before_a_break_are_not_used_again() {
        // A record of its own: other tests of this process record breaks in the shared one.
        let breaks = broken::Breaks::new();
        let old = Duration::from_secs(3600);
        assert!(!breaks.opened_before_last(old), "no break yet");
        breaks.record();
        assert!(breaks.opened_before_last(old));
        // The clock must move past the break (microseconds) for "opened since" to exist.
        std::thread::sleep(Duration::from_millis(2));
        assert!(
            !breaks.opened_before_last(Duration::ZERO),
            "a connection opened since is fine"
        );
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(is_broken_connection(&refused));
        assert!(!is_broken_connection(&sqlx::Error::PoolTimedOut));
    }

    // The pool needs a runtime even when it connects lazily.
    #[tokio::test]
    async fn a_malformed_url_is_refused_and_debug_hides_it() {
        assert!(matches!(
            pool(&PgArgs::url("postgres://h:notaport/db")),
            Err(PgError::Url(_))
        ));
        let debug = format!("{:?}", PgArgs::url("postgres://u:hunter2@h/db"));
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
