//! Ids and numbers in paths and query strings parse strictly: what a typed service reads is
//! exactly what the client wrote, or the request is refused.

use contract::products::{GetProduct, ListProducts};
use contract::{Operation, RequestOf, ServiceError};
use runtime::{RequestContext, ServiceBuilder};

use super::support::{Running, World, user_token};

/// A stand-in products service that names the id it decoded (as a 404, so it needs no rows).
async fn start_products(world: &World) -> Running {
    let service = ServiceBuilder::new("products", "1.0.0", "decoded ids", ())
        .endpoint::<GetProduct, _>(
            |(), _: RequestContext, r: RequestOf<GetProduct>| async move {
                Err::<contract::products::Product, _>(ServiceError::not_found(format!(
                    "product {:?}",
                    r.params.id
                )))
            },
        )
        .endpoint::<ListProducts, _>(
            |(), _: RequestContext, r: RequestOf<ListProducts>| async move {
                Err::<contract::page::Page<contract::products::Product>, _>(
                    ServiceError::not_found(format!("category {:?}", r.query.category_id)),
                )
            },
        );
    world.serve(service, &GetProduct::subject()).await
}

#[tokio::test]
async fn path_ids_and_query_numbers_parse_strictly() {
    let world = World::start().await;
    let products = start_products(&world).await;
    let http = world.http();
    let token = user_token("u1");

    let reply = http.get_as("/products/1", &token).await;
    assert_eq!(reply.json()["message"], "product Some(1)");
    let reply = http.get_as("/products?category_id=7", &token).await;
    assert_eq!(reply.json()["message"], "category Some(7)");
    for bad in [
        "/products/%2B1",
        "/products/1%20",
        "/products/%201",
        "/products/1.0",
        "/products?category_id=%2B7",
        "/products?category_id=7%20",
        "/products?category_id=9223372036854775808",
        "/products?limit=4294967296",
    ] {
        let reply = http.get_as(bad, &token).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.json());
        assert_eq!(reply.error_code(), "bad_request");
    }
    products.stop().await;
    world.stop().await;
}
