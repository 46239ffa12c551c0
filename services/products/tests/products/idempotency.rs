//! `Idempotency-Key` on create: products get their id from the database, so without a key a
//! repeated create is a second product; with one it is the first answer again.

use contract::products::{CreateProduct, NewProduct};
use contract::{Envelope, RequestOf};

use crate::support::start;

fn jam() -> RequestOf<CreateProduct> {
    Envelope::body(NewProduct {
        product_name: Some("Keyed Jam".into()),
        category_id: Some(2),
        supplier_id: Some(1),
        ..NewProduct::default()
    })
}

#[tokio::test]
async fn a_repeated_key_creates_one_product() {
    let (stack, env) = start().await;
    let (first, replayed) = env.call_keyed::<CreateProduct>("u1", "jam-1", &jam()).await;
    let first = first.unwrap();
    assert!(!replayed);
    let (again, replayed) = env.call_keyed::<CreateProduct>("u1", "jam-1", &jam()).await;
    assert_eq!(again.unwrap(), first, "the first result, same id");
    assert!(replayed);
    let (theirs, replayed) = env.call_keyed::<CreateProduct>("u2", "jam-1", &jam()).await;
    assert_ne!(
        theirs.unwrap().product_id,
        first.product_id,
        "another user's key"
    );
    assert!(!replayed);
    let rows = stack
        .pg
        .psql(
            "products",
            "SELECT count(*) FROM products WHERE product_name = 'Keyed Jam'",
        )
        .await
        .unwrap();
    assert_eq!(rows, "2", "one product per user, not one per request");
}
