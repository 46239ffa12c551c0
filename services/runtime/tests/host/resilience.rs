//! Restarts, outages and two instances sharing one stream of writes.

use std::time::Duration;

use runtime::pg;
use runtime::test_support::{READY, ServiceApp, assert_status, wait_until};

use crate::notes::{self, add_note, total};

#[tokio::test]
async fn restart_keeps_rows_and_does_not_rerun_migrations() {
    let (stack, mut app) = notes::start().await;
    add_note(&app, "kept").await.unwrap();
    // Stop, then start again on the same database, twice.
    for _ in 0..2 {
        app.stop().await;
        app = notes::spawn(&stack).await;
        app.wait_ready().await;
    }
    assert_eq!(total(&app).await, 1);
    assert_status(add_note(&app, "kept").await, 409);
    let applied = notes::psql(&stack, "SELECT count(*) FROM _sqlx_migrations").await;
    assert_eq!(applied, "1");
}

#[tokio::test]
async fn two_instances_share_writes_without_duplicates() {
    let (stack, app) = notes::start().await;
    let second = notes::spawn(&stack).await;
    second.wait_ready().await;
    // Each write is served by exactly one instance: a duplicate delivery would answer 409.
    let ids: Vec<String> = (0..40).map(|i| format!("note-{i}")).collect();
    let results = futures::future::join_all(ids.iter().map(|id| add_note(&app, id))).await;
    let created = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(created, ids.len(), "{results:?}");
    assert_eq!(total(&app).await, 40);
    let count = notes::psql(&stack, "SELECT count(*) FROM notes").await;
    assert_eq!(count, "40");
    // Both instances took part (the queue group spreads the load).
    let stats = runtime::discover::gather(
        app.requester.client(),
        "$SRV.STATS.notes",
        runtime::discover::GatherOptions {
            max: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let served: Vec<u64> = stats
        .iter()
        .map(|m| {
            let stats: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            stats["endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["name"] == "add")
                .map(|e| e["num_requests"].as_u64().unwrap())
                .sum()
        })
        .collect();
    assert_eq!(served.len(), 2, "{served:?}");
    assert_eq!(served.iter().sum::<u64>(), 40, "{served:?}");
    assert!(
        served.iter().all(|&n| n > 0),
        "one instance served nothing: {served:?}"
    );
    second.stop().await;
}

#[tokio::test]
async fn database_outage_is_503_and_recovers() {
    let (mut stack, app) = notes::start().await;
    stack.pg.stop();
    let err = assert_status(add_note(&app, "during").await, 503);
    assert_eq!(err.message, "database unavailable");
    app.wait_unready().await;
    stack.pg.restart().await.unwrap();
    app.wait_ready().await;
    add_note(&app, "after").await.unwrap();
    assert_eq!(total(&app).await, 1);
}

#[tokio::test]
async fn starts_before_its_database_and_becomes_ready() {
    let (mut stack, app) = notes::start().await;
    stack.pg.stop();
    let late = notes::spawn(&stack).await;
    // Not ready (and not crashed) while the database is down.
    late.wait_unready().await;
    assert!(!late.is_finished(), "exited while the database was down");
    stack.pg.restart().await.unwrap();
    late.wait_ready().await;
    late.stop().await;
    // The instance that lived through the outage recovers as well.
    app.wait_ready().await;
    assert_eq!(total(&app).await, 0);
}

#[tokio::test]
async fn readiness_follows_nats_and_serving_resumes_after_a_restart() {
    let (mut stack, app) = notes::start().await;
    stack.nats.kill();
    app.wait_unready().await;
    stack.nats.restart().await.unwrap();
    app.wait_ready().await;
    // The requester reconnects too; the service answers again once both are back.
    wait_until("a write succeeds after the restart", READY, || async {
        app.requester
            .call::<notes::AddNote>(
                &contract::Envelope::body(notes::Note {
                    id: "after-restart".into(),
                }),
                runtime::CallOptions::timeout(Duration::from_secs(2)),
            )
            .await
            .is_ok()
    })
    .await;
    assert_eq!(total(&app).await, 1);
    app.stop().await;
}

/// A migration that was changed after it ran is a real error: retrying cannot fix it, so the
/// service exits with it instead of waiting forever, not ready.
#[tokio::test]
async fn a_modified_migration_fails_fast() {
    let (stack, app) = notes::start().await;
    app.stop().await;
    notes::psql(
        &stack,
        "UPDATE _sqlx_migrations SET checksum = '\\x00'::bytea",
    )
    .await;
    let err = notes::spawn(&stack).await.exited().await.unwrap_err();
    assert!(err.contains("migration"), "{err}");
}

/// Opens several pooled connections (concurrent writes), as a service that has seen some
/// load holds them; returns when they are all idle again.
async fn fill_the_pool(app: &ServiceApp, prefix: &str) -> tokio::time::Instant {
    let ids: Vec<String> = (0..10).map(|i| format!("{prefix}-{i}")).collect();
    let writes = ids.iter().map(|id| add_note(app, id));
    for written in futures::future::join_all(writes).await {
        written.unwrap();
    }
    tokio::time::Instant::now()
}

/// After PostgreSQL restarts under an idle service, the pool holds only dead connections; the
/// service must still answer its first requests, not fail one per dead connection.
#[tokio::test]
async fn an_idle_service_answers_at_once_after_a_database_restart() {
    let (mut stack, app) = notes::start().await;
    let idle_since = fill_the_pool(&app, "before").await;
    stack.pg.restart().await.unwrap();
    // The scenario is a service that saw no request since before the restart.
    tokio::time::sleep_until(idle_since + pg::PING_WHEN_IDLE).await;
    for i in 0..15 {
        add_note(&app, &format!("after-{i}"))
            .await
            .unwrap_or_else(|e| panic!("request {i} after the restart: {e:?}"));
    }
    assert_eq!(total(&app).await, 25);
}

/// Readiness follows the database, not the pool's leftovers: the first check after the
/// database is back is ready.
#[tokio::test]
async fn readiness_is_back_with_the_database() {
    let (mut stack, app) = notes::start().await;
    fill_the_pool(&app, "before").await;
    stack.pg.restart().await.unwrap();
    let back = std::time::Instant::now();
    assert_eq!(app.readyz().await, 200, "the first check after the restart");
    assert!(
        back.elapsed() < Duration::from_secs(1),
        "{:?}",
        back.elapsed()
    );
    add_note(&app, "after").await.unwrap();
}
