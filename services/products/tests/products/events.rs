//! Domain events of products through the transactional outbox (the guarantees themselves, the
//! same code for every service, are tested on customers): each change is published once with
//! the product after it (before it, for a delete); a write refused inside its transaction
//! publishes nothing.

use contract::Envelope;
use contract::products::{
    CreateProduct, DeleteProduct, NewProduct, Product, ProductIdParams, ProductPatch, UpdateProduct,
};
use runtime::test_support::events::published;

use crate::support::{assert_status, start_with_events, update};

#[tokio::test]
async fn each_product_change_is_published_once_and_a_refused_one_not_at_all() {
    let (stack, env) = start_with_events().await;
    let new = |category_id| NewProduct {
        product_name: Some("Eventful".into()),
        category_id,
        ..NewProduct::default()
    };
    // A category that does not exist: a foreign-key violation inside the transaction.
    assert_status(
        env.admin::<CreateProduct>(Envelope::body(new(Some(999))))
            .await,
        422,
    );
    let created = env
        .admin::<CreateProduct>(Envelope::body(new(Some(1))))
        .await
        .unwrap();
    let id = || ProductIdParams::new(created.product_id);
    let patch = ProductPatch {
        units_in_stock: Some(Some(5)),
        ..ProductPatch::default()
    };
    let updated = env
        .admin::<UpdateProduct>(update(id(), patch))
        .await
        .unwrap();
    env.admin::<DeleteProduct>(Envelope::params(id()))
        .await
        .unwrap();
    stack.wait_outbox_drained().await;

    let events = published(&stack.nats.client().await).await;
    let types: Vec<_> = events.iter().map(|e| e.event["type"].clone()).collect();
    assert_eq!(
        types,
        ["products.created", "products.updated", "products.deleted"]
    );
    let subject = created.product_id.to_string();
    for e in &events {
        assert_eq!(e.event["source"], "/natstack/products");
        assert_eq!(e.event["subject"], subject.as_str());
        assert_eq!(e.event["authid"], "user-1");
        assert_eq!(
            e.msg_id.as_ref(),
            e.event["id"].as_str().map(str::to_owned).as_ref()
        );
    }
    let data =
        |i: usize| -> Product { serde_json::from_value(events[i].event["data"].clone()).unwrap() };
    assert_eq!(data(0), created);
    assert_eq!(data(1), updated);
    assert_eq!(data(2), updated, "a delete carries the product before it");
}

#[tokio::test]
async fn with_the_outbox_off_a_write_stores_no_event() {
    let (stack, env) = start_with_events().await;
    let create = |name: &str| {
        env.admin::<CreateProduct>(Envelope::body(NewProduct {
            product_name: Some(name.into()),
            ..NewProduct::default()
        }))
    };
    // The benchmark's baseline (EVENTS_OUTBOX=off), then on again: the relay publishes in
    // order, so an event of the first write would come before the second's.
    runtime::outbox::switch::set_off(true);
    create("Silent").await.unwrap();
    runtime::outbox::switch::set_off(false);
    let heard = create("Heard").await.unwrap();
    stack.wait_outbox_drained().await;

    let events = published(&stack.nats.client().await).await;
    let subjects: Vec<_> = events.iter().map(|e| e.event["subject"].clone()).collect();
    assert_eq!(subjects, [heard.product_id.to_string()]);
}
