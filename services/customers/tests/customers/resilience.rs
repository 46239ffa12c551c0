//! Restarts, a database outage, and two instances sharing one stream of writes.

use std::collections::HashSet;
use std::time::Duration;

use contract::Envelope;
use contract::customers::{
    CreateCustomer, CustomerIdParams, GetCustomer, ListCustomers, ListCustomersQuery, NewCustomer,
};
use runtime::test_support::wait_until;

use crate::support::{Env, Instance, READY};

/// A distinct five-letter id for `i`.
fn letters(i: usize) -> String {
    let mut id = String::from("W");
    let mut n = i;
    for _ in 0..4 {
        id.push(char::from(b'A' + (n % 26) as u8));
        n /= 26;
    }
    id
}

fn customer(id: String) -> NewCustomer {
    NewCustomer {
        customer_id: Some(id),
        company_name: Some("Written".into()),
        ..NewCustomer::default()
    }
}

async fn total(env: &Env) -> u64 {
    env.call::<ListCustomers>(Envelope::query(ListCustomersQuery::default()))
        .await
        .unwrap()
        .total
}

#[tokio::test]
async fn restart_keeps_rows_and_does_not_reseed() {
    let mut env = Env::start().await;
    env.call::<CreateCustomer>(Envelope::body(customer("AAAAA".into())))
        .await
        .unwrap();
    // A seeded row changed and one deleted: a reseed would bring them back.
    env.admin::<contract::customers::DeleteCustomer>(Envelope::params(CustomerIdParams::new(
        "ALFKI",
    )))
    .await
    .unwrap();
    // Stop, then start again on the same database, twice.
    for _ in 0..2 {
        env.service.stop().await;
        env.service = Instance::spawn(&env.nats.url(), &env.database_url).await;
        env.service.wait_ready().await;
    }
    assert_eq!(total(&env).await, 91);
    env.call::<GetCustomer>(Envelope::params(CustomerIdParams::new("AAAAA")))
        .await
        .unwrap();
    let err = env
        .call::<GetCustomer>(Envelope::params(CustomerIdParams::new("ALFKI")))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 404);
    let applied = env
        .pg
        .psql("customers", "SELECT count(*) FROM _sqlx_migrations")
        .await
        .unwrap();
    assert_eq!(applied, "2");
}

#[tokio::test]
async fn two_instances_share_writes_without_duplicates() {
    let env = Env::start().await;
    let mut second = env.spawn_instance().await;
    second.wait_ready().await;
    // Each create is served by exactly one instance: a duplicate delivery would answer 409 or
    // insert twice.
    let ids: Vec<String> = (0..40).map(letters).collect();
    let unique: HashSet<_> = ids.iter().collect();
    let results = futures::future::join_all(
        ids.iter()
            .map(|id| env.call::<CreateCustomer>(Envelope::body(customer(id.clone())))),
    )
    .await;
    let created = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(created, unique.len(), "{results:?}");
    assert_eq!(total(&env).await, 91 + unique.len() as u64);
    let count = env
        .pg
        .psql("customers", "SELECT count(*) FROM customers")
        .await
        .unwrap();
    assert_eq!(count, (91 + unique.len()).to_string());
    // Both instances took part (the queue group spreads the load).
    let stats = runtime::discover::gather(
        env.caller.client(),
        "$SRV.STATS.customers",
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
                .filter(|e| e["name"] == "create")
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
    let mut env = Env::start().await;
    env.pg.stop();
    let err = env
        .call::<GetCustomer>(Envelope::params(CustomerIdParams::new("ALFKI")))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 503, "{err:?}");
    assert_eq!(err.message, "database unavailable");
    wait_until(
        "readiness reports the outage",
        Duration::from_secs(10),
        || async { env.service.readyz().await == 503 },
    )
    .await;
    env.pg.restart().await.unwrap();
    env.service.wait_ready().await;
    let alfki = env
        .call::<GetCustomer>(Envelope::params(CustomerIdParams::new("ALFKI")))
        .await
        .unwrap();
    assert_eq!(alfki.customer_id, "ALFKI");
}

#[tokio::test]
async fn starts_before_its_database_and_becomes_ready() {
    let mut env = Env::start().await;
    env.pg.stop();
    let mut late = Instance::spawn(&env.nats.url(), &env.database_url).await;
    // Not ready (and not crashed) while the database is down.
    wait_until("the health server answers", READY, || async {
        late.readyz().await == 503
    })
    .await;
    env.pg.restart().await.unwrap();
    late.wait_ready().await;
    late.stop().await;
    // The instance that lived through the outage recovers as well.
    env.service.wait_ready().await;
    assert_eq!(total(&env).await, 91);
}
