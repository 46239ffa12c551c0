//! `Idempotency-Key` on create: a repeat answers the first result without writing again, the
//! key names one request of one user, a key still in use is 409, expired keys are purged.

use std::time::Duration;

use contract::customers::{CreateCustomer, NewCustomer};
use contract::{Envelope, RequestOf, ServiceError};
use runtime::test_support::{PgStack, wait_until};

use crate::support::start;

fn customer(id: &str) -> RequestOf<CreateCustomer> {
    Envelope::body(NewCustomer {
        customer_id: Some(id.into()),
        company_name: Some(format!("Company {id}")),
        ..NewCustomer::default()
    })
}

async fn count(stack: &PgStack, sql: &str) -> String {
    stack.pg.psql("customers", sql).await.unwrap()
}

#[tokio::test]
async fn a_repeated_key_answers_the_first_result_and_writes_once() {
    let (stack, env) = start().await;
    let request = customer("IDEMA");
    let (first, replayed) = env
        .call_keyed::<CreateCustomer>("u1", "order-1", &request)
        .await;
    let first = first.unwrap();
    assert!(!replayed);
    let (again, replayed) = env
        .call_keyed::<CreateCustomer>("u1", "order-1", &request)
        .await;
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
    let err = env.call::<CreateCustomer>(request).await.unwrap_err();
    assert_eq!(err.status(), 409, "{err:?}");
}

#[tokio::test]
async fn a_key_names_one_request_of_one_user() {
    let (stack, env) = start().await;
    let (first, _) = env
        .call_keyed::<CreateCustomer>("u1", "k", &customer("IDEMB"))
        .await;
    first.unwrap();
    let (reused, _) = env
        .call_keyed::<CreateCustomer>("u1", "k", &customer("IDEMC"))
        .await;
    let err = reused.unwrap_err();
    assert_eq!(err.status(), 422, "{err:?}");
    assert!(err.message.contains("Idempotency-Key"), "{err:?}");
    assert_eq!(err.field_errors()[0].field, "idempotency-key");

    let (theirs, replayed) = env
        .call_keyed::<CreateCustomer>("u2", "k", &customer("IDEMC"))
        .await;
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
        let (answer, _) = env
            .call_keyed::<CreateCustomer>("u1", bad, &customer("IDEMD"))
            .await;
        let err: ServiceError = answer.unwrap_err();
        assert_eq!(err.status(), 400, "{err:?}");
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
        async move {
            env.call_keyed::<CreateCustomer>("u1", "slow", &customer("IDEME"))
                .await
        }
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
    let (busy, _) = env
        .call_keyed::<CreateCustomer>("u1", "slow", &customer("IDEME"))
        .await;
    let err = busy.unwrap_err();
    assert_eq!(err.status(), 409, "{err:?}");
    assert_eq!(err.retry_after_secs, Some(1));

    lock.rollback().await.unwrap();
    let (first, replayed) = running.await.unwrap();
    let first = first.unwrap();
    assert!(!replayed);
    let (again, replayed) = env
        .call_keyed::<CreateCustomer>("u1", "slow", &customer("IDEME"))
        .await;
    assert_eq!(again.unwrap(), first);
    assert!(replayed);
}

#[tokio::test]
async fn expired_keys_are_forgotten_and_purged() {
    let (stack, env) = start().await;
    let (first, _) = env
        .call_keyed::<CreateCustomer>("u1", "old", &customer("IDEMF"))
        .await;
    first.unwrap();
    count(
        &stack,
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'; \
         INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at) \
         VALUES ('u9', 'stale', '', 201, '{}', now() - interval '2 days')",
    )
    .await;
    // A day later the key names a new request.
    let (second, replayed) = env
        .call_keyed::<CreateCustomer>("u1", "old", &customer("IDEMG"))
        .await;
    assert_eq!(second.unwrap().customer_id, "IDEMG");
    assert!(!replayed);
    assert_eq!(
        count(&stack, "SELECT string_agg(key, ',') FROM idempotency_keys").await,
        "old",
        "the stale key is purged, the reused one stored afresh"
    );
}
