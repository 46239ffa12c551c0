//! The service registers with the Services API: one endpoint per operation, in queue group
//! `q`, with the HTTP mapping in the endpoint metadata the gateway routes by.

use contract::Operation;
use contract::products::{
    CreateProduct, DeleteProduct, GetProduct, ListCategories, ListProducts, ListSuppliers,
    UpdateProduct,
};
use runtime::test_support::{assert_registered, endpoint_of};

use crate::support::start;

#[tokio::test]
async fn endpoints_carry_their_http_mapping() {
    let (_stack, env) = start().await;
    let want = vec![
        endpoint_of::<ListProducts>(),
        endpoint_of::<ListCategories>(),
        endpoint_of::<ListSuppliers>(),
        endpoint_of::<GetProduct>(),
        endpoint_of::<CreateProduct>(),
        endpoint_of::<UpdateProduct>(),
        endpoint_of::<DeleteProduct>(),
    ];
    assert_registered(&env.requester, "products", env!("CARGO_PKG_VERSION"), want).await;
    let delete = DeleteProduct::meta();
    assert_eq!(delete.auth, contract::AuthLevel::Admin);
    assert_eq!(delete.path, "/products/{id}");
}

#[test]
fn categories_and_suppliers_have_their_own_routes() {
    assert_eq!(ListCategories::subject(), "products.categories");
    assert_eq!(ListCategories::meta().path, "/categories");
    assert_eq!(ListSuppliers::subject(), "products.suppliers");
    assert_eq!(ListSuppliers::meta().path, "/suppliers");
}
