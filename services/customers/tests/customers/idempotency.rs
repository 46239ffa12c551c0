//! `Idempotency-Key` on create: a repeat answers the first result without writing again, the
//! key names one request of one user, a key still in use is 409, expired keys are purged.

use std::time::Duration;

use contract::customers::{CreateCustomer, Customer, NewCustomer};
use contract::{Envelope, RequestOf, ServiceError};
use runtime::test_support::{PgStack, ServiceApp, wait_until};

use crate::support::{assert_status, start};

fn customer(id: &str) -> RequestOf<CreateCustomer> {
    Envelope::body(NewCustomer {
        customer_id: Some(id.into()),
        company_name: Some(format!("Company {id}")),
        ..NewCustomer::default()
    })
}

/// Creates customer `id` as user `user` with `Idempotency-Key: key`: the answer, and whether
/// it was replayed.
async fn create_keyed(
    env: &ServiceApp,
    user: &str,
    key: &str,
    id: &str,
) -> (Result<Customer, ServiceError>, bool) {
    env.call_keyed::<CreateCustomer>(user, key, &customer(id))
        .await
}

async fn count(stack: &PgStack, sql: &str) -> String {
    stack.pg.psql("customers", sql).await.unwrap()
}

#[tokio::test]
async fn a_repeated_key_answers_the_first_result_and_writes_once() {
    let (stack, env) = start().await;
    let (first, replayed) = create_keyed(&env, "u1", "order-1", "IDEMA").await;
    let first = first.unwrap();
    assert!(!replayed);
    let (again, replayed) = create_keyed(&env, "u1", "order-1", "IDEMA").await;
    assert_eq!(again.unwrap(), first, "the first result");
    assert!(replayed, "marked as a repeat");
    assert_eq!(
        count(
            &stack,
            "SELECT count(*) FROM customers WHERE customer_id = 'IDEMA'"
        )
        .await,
        "1"
    );
    assert_eq!(
        count(&stack, "SELECT count(*) FROM idempotency_keys").await,
        "1"
    );

    // Without a key the same create is carried out again, and refused as a duplicate.
    assert_status(env.call::<CreateCustomer>(customer("IDEMA")).await, 409);
}

#[tokio::test]
async fn a_key_names_one_request_of_one_user() {
    let (stack, env) = start().await;
    create_keyed(&env, "u1", "k", "IDEMB").await.0.unwrap();
    let err = assert_status(create_keyed(&env, "u1", "k", "IDEMC").await.0, 422);
    assert!(err.message.contains("Idempotency-Key"), "{err:?}");
    assert_eq!(err.field_errors()[0].field, "idempotency-key");

    let (theirs, replayed) = create_keyed(&env, "u2", "k", "IDEMC").await;
    assert_eq!(
        theirs.unwrap().customer_id,
        "IDEMC",
        "another user's key is theirs"
    );
    assert!(!replayed);
    assert_eq!(
        count(
            &stack,
            "SELECT count(*) FROM customers WHERE customer_id LIKE 'IDEM_'"
        )
        .await,
        "2"
    );

    for bad in ["has space", &"k".repeat(256)] {
        assert_status(create_keyed(&env, "u1", bad, "IDEMD").await.0, 400);
    }
}

/// While the first request with a key runs (held here by a table lock in front of its
/// insert), a repeat is answered 409 with `Retry-After` at once; once it is done, the repeat
/// gets its result.
#[tokio::test]
async fn a_key_still_in_use_is_a_conflict_to_retry() {
    let (stack, env) = start().await;
    let blocker = sqlx::PgPool::connect(&stack.database_url).await.unwrap();
    let mut lock = blocker.begin().await.unwrap();
    sqlx::query("LOCK TABLE customers IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let env = std::sync::Arc::new(env);
    let running = tokio::spawn({
        let env = env.clone();
        async move { create_keyed(&env, "u1", "slow", "IDEME").await }
    });
    wait_until(
        "the first request holds its key",
        Duration::from_secs(30),
        || async {
            count(
                &stack,
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted",
            )
            .await
                == "1"
        },
    )
    .await;
    let err = assert_status(create_keyed(&env, "u1", "slow", "IDEME").await.0, 409);
    assert_eq!(err.retry_after_secs, Some(1));

    lock.rollback().await.unwrap();
    let (first, replayed) = running.await.unwrap();
    let first = first.unwrap();
    assert!(!replayed);
    let (again, replayed) = create_keyed(&env, "u1", "slow", "IDEME").await;
    assert_eq!(again.unwrap(), first);
    assert!(replayed);
}

#[tokio::test]
async fn expired_keys_are_forgotten_and_purged() {
    let (stack, env) = start().await;
    create_keyed(&env, "u1", "old", "IDEMF").await.0.unwrap();
    count(
        &stack,
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'; \
         INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at) \
         VALUES ('u9', 'stale', '', 201, '{}', now() - interval '2 days')",
    )
    .await;
    // A day later the key names a new request.
    let (second, replayed) = create_keyed(&env, "u1", "old", "IDEMG").await;
    assert_eq!(second.unwrap().customer_id, "IDEMG");
    assert!(!replayed);
    assert_eq!(
        count(&stack, "SELECT string_agg(key, ',') FROM idempotency_keys").await,
        "old",
        "the stale key is purged, the reused one stored afresh"
    );
}
