//! Restarts, a database outage, and two instances sharing one stream of writes.

use std::time::Duration;

use contract::Envelope;
use contract::products::{
    CreateProduct, DeleteProduct, GetProduct, ListProducts, ListProductsQuery, NewProduct,
    ProductIdParams,
};
use runtime::test_support::wait_until;

use crate::support::{Env, Instance, READY};

fn product(name: String) -> NewProduct {
    NewProduct {
        product_name: Some(name),
        ..NewProduct::default()
    }
}

async fn total(env: &Env) -> u64 {
    env.call::<ListProducts>(Envelope::query(ListProductsQuery::default()))
        .await
        .unwrap()
        .total
}

#[tokio::test]
async fn restart_keeps_rows_and_does_not_reseed() {
    let mut env = Env::start().await;
    let created = env
        .call::<CreateProduct>(Envelope::body(product("Kept".into())))
        .await
        .unwrap();
    env.admin::<DeleteProduct>(Envelope::params(ProductIdParams::new(1)))
        .await
        .unwrap();
    env.service.stop().await;
    env.service = Instance::spawn(&env.nats.url(), &env.database_url).await;
    env.service.wait_ready().await;
    assert_eq!(total(&env).await, 77);
    let kept = env
        .call::<GetProduct>(Envelope::params(ProductIdParams::new(
            created.product_id.into(),
        )))
        .await
        .unwrap();
    assert_eq!(kept.product_name, "Kept");
    let err = env
        .call::<GetProduct>(Envelope::params(ProductIdParams::new(1)))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 404, "a reseed would have brought Chai back");
    // The identity was not reset either.
    let next = env
        .call::<CreateProduct>(Envelope::body(product("Next".into())))
        .await
        .unwrap();
    assert_eq!(next.product_id, created.product_id + 1);
    let applied = env
        .pg
        .psql("products", "SELECT count(*) FROM _sqlx_migrations")
        .await
        .unwrap();
    assert_eq!(applied, products::MIGRATOR.iter().count().to_string());
}

#[tokio::test]
async fn two_instances_share_writes_without_duplicates() {
    let env = Env::start().await;
    let mut second = env.spawn_instance().await;
    second.wait_ready().await;
    let results = futures::future::join_all(
        (0..40).map(|i| env.call::<CreateProduct>(Envelope::body(product(format!("Batch {i}"))))),
    )
    .await;
    let mut ids: Vec<i64> = results.into_iter().map(|r| r.unwrap().product_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 40);
    assert_eq!(total(&env).await, 117);
    let count = env
        .pg
        .psql(
            "products",
            "SELECT count(*) FROM products WHERE product_name LIKE 'Batch %'",
        )
        .await
        .unwrap();
    assert_eq!(count, "40", "each write applied exactly once");
    let stats = runtime::discover::gather(
        env.caller.client(),
        "$SRV.STATS.products",
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
    assert_eq!(served.iter().sum::<u64>(), 40, "{served:?}");
    assert!(
        served.len() == 2 && served.iter().all(|&n| n > 0),
        "{served:?}"
    );
    second.stop().await;
}

#[tokio::test]
async fn database_outage_is_503_and_recovers() {
    let mut env = Env::start().await;
    env.pg.stop();
    let err = env
        .call::<GetProduct>(Envelope::params(ProductIdParams::new(1)))
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.message.as_str()),
        (503, "database unavailable")
    );
    wait_until(
        "readiness reports the outage",
        Duration::from_secs(10),
        || async { env.service.readyz().await == 503 },
    )
    .await;
    env.pg.restart().await.unwrap();
    env.service.wait_ready().await;
    let chai = env
        .call::<GetProduct>(Envelope::params(ProductIdParams::new(1)))
        .await
        .unwrap();
    assert_eq!(chai.product_name, "Chai");
}

#[tokio::test]
async fn starts_before_its_database_and_becomes_ready() {
    let mut env = Env::start().await;
    env.pg.stop();
    let mut late = Instance::spawn(&env.nats.url(), &env.database_url).await;
    wait_until("the health server answers not ready", READY, || async {
        late.readyz().await == 503
    })
    .await;
    env.pg.restart().await.unwrap();
    late.wait_ready().await;
    late.stop().await;
    // The instance that lived through the outage recovers as well.
    env.service.wait_ready().await;
    assert_eq!(total(&env).await, 77);
}
