//! The service registers with the Services API: one endpoint per operation, in queue group
//! `q`, with the HTTP mapping in the endpoint metadata the gateway routes by.

use contract::Operation;
use contract::customers::{
    CreateCustomer, DeleteCustomer, GetCustomer, ListCustomers, UpdateCustomer,
};
use runtime::test_support::{assert_registered, endpoint_of};

use crate::support::start;

#[tokio::test]
async fn endpoints_carry_their_http_mapping() {
    let (_stack, env) = start().await;
    let want = vec![
        endpoint_of::<ListCustomers>(),
        endpoint_of::<GetCustomer>(),
        endpoint_of::<CreateCustomer>(),
        endpoint_of::<UpdateCustomer>(),
        endpoint_of::<DeleteCustomer>(),
    ];
    assert_registered(&env.requester, "customers", env!("CARGO_PKG_VERSION"), want).await;
    let delete = DeleteCustomer::meta();
    assert_eq!(delete.auth, contract::AuthLevel::Admin);
    assert_eq!(delete.path, "/customers/{id}");
}
