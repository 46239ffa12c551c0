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
pub mod row;
mod service;

pub use service::PgService;

use std::str::FromStr;
use std::time::Duration;

use contract::{FieldError, ServiceError};
use sqlx::PgPool;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgDatabaseError, PgPoolOptions};
use tracing::{error, info, warn};

use crate::config::{ExposeSecret, SecretString};

/// The `Retry-After` of the 503 answered when a table cannot take more rows (an exhausted id
/// sequence): nothing changes until an operator acts, so clients are asked to wait longer
/// than for an outage.
pub const LIMIT_RETRY_AFTER_SECS: u64 = 60;

/// How long a request waits for a pooled connection before it is answered 503. Short, so an
/// outage turns into a prompt, clear error instead of a gateway timeout.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// The message of every "database is down" reply.
pub const UNAVAILABLE: &str = "database unavailable";

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

/// SQLSTATE `read_only_sql_transaction`: the statement wrote on a server that takes no writes.
/// The services never open read-only transactions themselves, so this means the connection
/// reached a server that is not (or no longer) the primary: a standby, or a demoted primary
/// after a switchover moved the read-write Service elsewhere.
pub const READ_ONLY_SQLSTATE: &str = "25006";

/// Whether `err` means the connection it ran on is dead (closed by the server, reset, the
/// server shutting down) or useless for writes (its server is not the primary), as opposed to
/// the database being unreachable for a new one. Either way the connections opened before it
/// are discarded: a fresh one goes through the read-write Service to the current primary.
fn is_broken_connection(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == READ_ONLY_SQLSTATE
        }),
        _ => false,
    }
}

/// Whether `err` means the database cannot be reached (rather than refusing a statement).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 57P01-03: the server is shutting down or starting;
            // 25006: a write reached a server that is not the primary (mid-failover);
            // 53: out of connections or resources; 28: the role does not exist (yet) or its
            // password is not set (yet); 3D000: the database does not exist (yet). The last
            // two are what a service sees before its provisioning Job has run.
            code.starts_with("08")
                || code.starts_with("57P")
                || code.starts_with("53")
                || code.starts_with("28")
                || code == "3D000"
                || code == READ_ONLY_SQLSTATE
        }),
        _ => false,
    }
}

/// The row a lookup found, `missing()` when there was none (a 404 naming the resource), or
/// the database error as a reply ([`reply_error`]).
pub fn found<T>(
    lookup: Result<Option<T>, sqlx::Error>,
    missing: impl FnOnce() -> ServiceError,
) -> Result<T, ServiceError> {
    lookup.map_err(reply_error)?.ok_or_else(missing)
}

/// Maps a sqlx error to a client-safe reply; see the module docs. Missing rows are the
/// caller's to map (`RowNotFound` is 404 with a message naming the resource).
pub fn reply_error(err: sqlx::Error) -> ServiceError {
    if is_broken_connection(&err) {
        broken::record();
    }
    if is_unavailable(&err) {
        warn!(error = %err, "database unavailable");
        return ServiceError::unavailable(UNAVAILABLE);
    }
    if let sqlx::Error::Database(db) = &err
        && let Some(pg) = db.try_downcast_ref::<PgDatabaseError>()
    {
        let field = field_of(pg);
        match pg.code() {
            // unique_violation
            "23505" => {
                return ServiceError::conflict(format!("a row with this {field} already exists"))
                    .with_details(serde_json::json!({ "fields": [
                        FieldError::new(field, "already exists")
                    ]}));
            }
            // foreign_key_violation
            "23503" => {
                return ServiceError::validation(vec![FieldError::new(
                    field,
                    "refers to a row that does not exist",
                )]);
            }
            // check_violation, not_null_violation
            "23514" | "23502" => {
                return ServiceError::validation(vec![FieldError::new(
                    field,
                    "violates a constraint of the schema",
                )]);
            }
            // string_data_right_truncation, numeric_value_out_of_range,
            // character_not_in_repertoire (a NUL), invalid_text_representation
            "22001" | "22003" | "22021" | "22P02" => {
                return ServiceError::validation(vec![FieldError::new(
                    field,
                    "is not a valid value for its column",
                )]);
            }
            // sequence_generator_limit_exceeded, program_limit_exceeded: the table cannot
            // take more rows of this kind; nothing the client sent is wrong, and retrying
            // will not help until an operator acts.
            "2200H" | "54000" => {
                error!(error = %err, "database limit reached");
                return ServiceError::unavailable("the database cannot store more of these")
                    .with_retry_after(LIMIT_RETRY_AFTER_SECS);
            }
            _ => {}
        }
    }
    error!(error = %err, "database error");
    ServiceError::internal()
}

/// The offending field: the column PostgreSQL names, else the key in the detail
/// (`Key (category_id)=(99) is not present ...`), else the constraint name.
fn field_of(err: &PgDatabaseError) -> String {
    if let Some(column) = err.column() {
        return column.to_owned();
    }
    let from_detail = err
        .detail()
        .and_then(|d| d.strip_prefix("Key ("))
        .and_then(|d| d.split_once(")="))
        .map(|(key, _)| key.to_owned());
    from_detail
        .or_else(|| err.constraint().map(str::to_owned))
        .unwrap_or_else(|| "body".to_owned())
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

    #[test]
    fn connection_failures_are_unavailable_and_others_are_not() {
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(is_unavailable(&refused));
        assert!(is_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(!is_unavailable(&sqlx::Error::RowNotFound));
        let err = reply_error(sqlx::Error::PoolTimedOut);
        assert_eq!((err.status(), err.message.as_str()), (503, UNAVAILABLE));
        assert_eq!(
            err.retry_after_secs,
            Some(contract::error::UNAVAILABLE_RETRY_AFTER_SECS),
            "a 503 says when to retry"
        );
        let err = reply_error(sqlx::Error::ColumnNotFound("secret_column".into()));
        assert_eq!(err.status(), 500);
        assert!(!err.message.contains("secret_column"));
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
