//! Create → get → update → delete, missing rows and literal storage of hostile text.

use contract::products::{
    CreateProduct, DeleteProduct, GetProduct, ListProducts, ListProductsQuery, NewProduct, Product,
    ProductIdParams, ProductPatch, UpdateProduct,
};
use contract::{Envelope, ServiceError};
use runtime::test_support::ServiceApp;

use crate::support::{assert_invalid, assert_status, start, update};

fn widget(name: &str) -> NewProduct {
    NewProduct {
        product_name: Some(name.into()),
        category_id: Some(2),
        supplier_id: Some(1),
        unit_price: Some("0.15".parse().unwrap()),
        units_in_stock: Some(5),
        ..NewProduct::default()
    }
}

/// Creates [`widget`] `name` as a signed-in user.
async fn create_widget(env: &ServiceApp, name: &str) -> Result<Product, ServiceError> {
    env.call::<CreateProduct>(Envelope::body(widget(name)))
        .await
}

#[tokio::test]
async fn round_trip_and_missing() {
    let (_stack, env) = start().await;
    let created = create_widget(&env, "Widget").await.unwrap();
    assert_eq!(
        created.product_id, 78,
        "the identity continues after the seed"
    );
    assert_eq!(created.unit_price.as_ref().unwrap().as_str(), "0.15");
    assert_eq!(created.category_name.as_deref(), Some("Condiments"));
    assert_eq!(created.supplier_name.as_deref(), Some("Exotic Liquids"));
    assert!(!created.discontinued);
    let id = || ProductIdParams::new(78);
    assert_eq!(
        env.call::<GetProduct>(Envelope::params(id()))
            .await
            .unwrap(),
        created
    );

    let patch = ProductPatch {
        unit_price: Some(Some("19.99".parse().unwrap())),
        category_id: Some(None),
        discontinued: Some(Some(true)),
        units_in_stock: Some(Some(0)),
        ..ProductPatch::default()
    };
    let updated = env
        .call::<UpdateProduct>(update(id(), patch))
        .await
        .unwrap();
    assert_eq!(updated.unit_price.as_ref().unwrap().as_str(), "19.99");
    assert_eq!(
        (updated.category_id, updated.category_name.as_deref()),
        (None, None)
    );
    assert_eq!(updated.supplier_id, Some(1), "absent fields stay");
    assert!(updated.discontinued);
    assert_eq!(
        env.call::<GetProduct>(Envelope::params(id()))
            .await
            .unwrap(),
        updated
    );
    // A price as a JSON number is read as the decimal it spells.
    let raw: serde_json::Value = {
        let reply = env
            .requester
            .request(
                "products.update",
                br#"{"params":{"id":"78"},"body":{"unit_price":0.1}}"#
                    .to_vec()
                    .into(),
                runtime::CallOptions::default()
                    .header(contract::headers::USER_ID, "u")
                    .header(contract::headers::ROLES, "user"),
            )
            .await
            .unwrap();
        serde_json::from_slice(&reply.payload).unwrap()
    };
    assert_eq!(raw["unit_price"], "0.10");

    // A missing category → 422 on the field, not a 500.
    let bad = ProductPatch {
        category_id: Some(Some(999)),
        ..ProductPatch::default()
    };
    assert_invalid(
        env.call::<UpdateProduct>(update(id(), bad)).await,
        "category_id",
    );

    assert_status(env.call::<DeleteProduct>(Envelope::params(id())).await, 403);
    env.admin::<DeleteProduct>(Envelope::params(id()))
        .await
        .unwrap();
    for err in [
        env.call::<GetProduct>(Envelope::params(id()))
            .await
            .unwrap_err(),
        env.admin::<DeleteProduct>(Envelope::params(id()))
            .await
            .unwrap_err(),
        env.call::<UpdateProduct>(update(id(), ProductPatch::default()))
            .await
            .unwrap_err(),
        env.call::<GetProduct>(Envelope::params(ProductIdParams::new(99_999)))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.status(), 404, "{err:?}");
    }
    let err = env
        .raw_error("products.get", r#"{"params":{"id":"abc"}}"#)
        .await;
    assert_eq!(err.status(), 400);
    // Ids are never reused after a delete.
    let next = create_widget(&env, "Next").await.unwrap();
    assert_eq!(next.product_id, 79);
}

#[tokio::test]
async fn hostile_text_is_stored_and_returned_literally() {
    let (_stack, env) = start().await;
    let evil = "x'); DROP TABLE products;--";
    let created = create_widget(&env, evil).await.unwrap();
    assert_eq!(created.product_name, evil);
    let got = env
        .call::<GetProduct>(Envelope::params(ProductIdParams::new(created.product_id)))
        .await
        .unwrap();
    assert_eq!(got.product_name, evil);
    let hits = env
        .call::<ListProducts>(Envelope::query(ListProductsQuery {
            q: Some("DROP TABLE".into()),
            ..ListProductsQuery::default()
        }))
        .await
        .unwrap();
    assert_eq!(hits.total, 1);
    let all = env
        .call::<ListProducts>(Envelope::query(ListProductsQuery::default()))
        .await
        .unwrap();
    assert_eq!(all.total, 78);
}

/// Ids go on past `smallint` (which ran out at 32,767), and an id sequence that does run out
/// is a clear 503 with `Retry-After`, not a 500.
#[tokio::test]
async fn ids_outlast_smallint_and_an_exhausted_sequence_is_a_clear_503() {
    let (stack, env) = start().await;
    let sequence = "pg_get_serial_sequence('products', 'product_id')";
    stack
        .pg
        .psql("products", &format!("SELECT setval({sequence}, 40000)"))
        .await
        .unwrap();
    let created = create_widget(&env, "Past smallint").await.unwrap();
    assert_eq!(created.product_id, 40_001);
    let read = env
        .call::<GetProduct>(Envelope::params(ProductIdParams::new(40_001)))
        .await
        .unwrap();
    assert_eq!(read.product_name, "Past smallint");

    stack
        .pg
        .psql(
            "products",
            &format!(
                "DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s MAXVALUE 40001', {sequence}); END $$"
            ),
        )
        .await
        .unwrap();
    let err = assert_status(create_widget(&env, "One too many").await, 503);
    assert!(err.to_string().contains("cannot store more"), "{err}");
    assert_eq!(
        err.retry_after_secs,
        Some(runtime::pg::LIMIT_RETRY_AFTER_SECS),
        "the 503 says when to retry"
    );
}
