//! A pooled connection whose server stopped taking writes (what a connection made before a
//! switchover sees when it reaches the demoted primary or a standby): the write is answered
//! 503 with `Retry-After`, never 500, and the pool serves the next request from a fresh
//! connection, without a restart.

use super::*;
use crate::test_support::PgServer;

#[tokio::test]
async fn a_write_on_a_read_only_server_is_503_and_the_pool_recovers() {
    let pg = PgServer::start().await.expect("postgres starts");
    let url = pg.create_database("failover").await.expect("database");
    let pool = pool(&PgArgs {
        database_url: SecretString::from(url),
        database_max_connections: 1,
    })
    .expect("pool");
    sqlx::query("CREATE TABLE t (id int)")
        .execute(&pool)
        .await
        .expect("create");
    // The pool's only connection now talks to a server that refuses writes, as a standby
    // does: PostgreSQL itself answers 25006.
    sqlx::query("SET default_transaction_read_only = on")
        .execute(&pool)
        .await
        .expect("set read-only");
    let refused = sqlx::query("INSERT INTO t VALUES (1)")
        .execute(&pool)
        .await
        .expect_err("a read-only server refuses the write");
    let code = match &refused {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    };
    assert_eq!(code.as_deref(), Some(READ_ONLY_SQLSTATE), "{refused}");
    let reply = reply_error(refused);
    assert_eq!((reply.status(), reply.message.as_str()), (503, UNAVAILABLE));
    assert_eq!(
        reply.retry_after_secs,
        Some(contract::error::UNAVAILABLE_RETRY_AFTER_SECS)
    );
    // The next write runs on a fresh connection (the read-only one was discarded), which
    // takes writes again.
    sqlx::query("INSERT INTO t VALUES (2)")
        .execute(&pool)
        .await
        .expect("a fresh connection writes");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(count, 1, "only the write after the refusal is stored");
}
