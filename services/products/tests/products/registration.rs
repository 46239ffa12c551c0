//! The service registers with the Services API: one endpoint per operation, in queue group
//! `q`, with the HTTP mapping in the endpoint metadata the gateway routes by.

use contract::products::{
    CreateProduct, DeleteProduct, GetProduct, ListCategories, ListProducts, ListSuppliers,
    UpdateProduct,
};
use contract::{EndpointMeta, Operation};
use runtime::discover::{self, GatherOptions};

use crate::support::start;

fn expected<O: Operation>() -> (String, String, EndpointMeta) {
    (O::NAME.to_owned(), O::subject(), O::meta())
}

#[tokio::test]
async fn endpoints_carry_their_http_mapping() {
    let (_stack, env) = start().await;
    let infos = discover::info(
        env.requester.client(),
        Some("products"),
        GatherOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(infos.len(), 1);
    let info = &infos[0];
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    let mut seen: Vec<_> = info
        .endpoints
        .iter()
        .map(|e| {
            assert_eq!(e.queue_group.as_deref(), Some("q"), "{e:?}");
            let meta = EndpointMeta::from_metadata(&e.metadata).unwrap();
            (e.name.clone(), e.subject.clone(), meta)
        })
        .collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want = vec![
        expected::<ListProducts>(),
        expected::<ListCategories>(),
        expected::<ListSuppliers>(),
        expected::<GetProduct>(),
        expected::<CreateProduct>(),
        expected::<UpdateProduct>(),
        expected::<DeleteProduct>(),
    ];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(seen, want);
    let delete = want.iter().find(|e| e.0 == "delete").unwrap();
    assert_eq!(delete.2.auth, contract::AuthLevel::Admin);
    assert_eq!(delete.2.path, "/products/{id}");
}

#[test]
fn categories_and_suppliers_have_their_own_routes() {
    assert_eq!(ListCategories::subject(), "products.categories");
    assert_eq!(ListCategories::meta().path, "/categories");
    assert_eq!(ListSuppliers::subject(), "products.suppliers");
    assert_eq!(ListSuppliers::meta().path, "/suppliers");
}
