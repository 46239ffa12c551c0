//! What a sqlx error means for the client: the database unavailable (503, `Retry-After`), a
//! row that breaks a constraint (409 or 422 naming the field), a table that cannot take more
//! (503), or anything else (500, the cause logged and never sent); and which errors mean the
//! connection itself is broken. [`super`]'s module docs list the mapping.

use contract::{FieldError, ServiceError};
use sqlx::postgres::PgDatabaseError;
use tracing::{error, warn};

/// The message of every "database is down" reply.
pub const UNAVAILABLE: &str = "database unavailable";

/// The `Retry-After` of the 503 answered when a table cannot take more rows (an exhausted id
/// sequence): nothing changes until an operator acts, so clients are asked to wait longer
/// than for an outage.
pub const LIMIT_RETRY_AFTER_SECS: u64 = 60;

/// SQLSTATE `read_only_sql_transaction`: the statement wrote on a server that takes no writes.
/// The services never open read-only transactions themselves, so this means the connection
/// reached a server that is not (or no longer) the primary: a standby, or a demoted primary
/// after a switchover moved the read-write Service elsewhere.
pub const READ_ONLY_SQLSTATE: &str = "25006";

/// Whether `err` means the connection it ran on is dead (closed by the server, reset, the
/// server shutting down) or useless for writes (its server is not the primary), as opposed to
/// the database being unreachable for a new one. Either way the connections opened before it
/// are discarded: a fresh one goes through the read-write Service to the current primary.
pub(super) fn is_broken_connection(err: &sqlx::Error) -> bool {
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
        super::broken::record();
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
    use super::*;

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
}
