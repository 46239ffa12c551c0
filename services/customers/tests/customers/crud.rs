//! Create → get → update → delete, conflicts, missing rows and literal storage of hostile text.

use contract::customers::{
    CreateCustomer, Customer, CustomerIdParams, CustomerPatch, DeleteCustomer, GetCustomer,
    ListCustomers, ListCustomersQuery, NewCustomer, UpdateCustomer,
};
use contract::{Envelope, ServiceError};
use runtime::test_support::ServiceApp;

use crate::support::{assert_status, start};

fn new_customer(id: &str, name: &str) -> NewCustomer {
    NewCustomer {
        customer_id: Some(id.into()),
        company_name: Some(name.into()),
        city: Some("Oslo".into()),
        country: Some("Norway".into()),
        ..NewCustomer::default()
    }
}

/// Creates [`new_customer`] `id`, `name` as a signed-in user.
async fn create(env: &ServiceApp, id: &str, name: &str) -> Result<Customer, ServiceError> {
    env.call::<CreateCustomer>(Envelope::body(new_customer(id, name)))
        .await
}

/// Reads customer `id` as a signed-in user.
async fn get(env: &ServiceApp, id: &str) -> Result<Customer, ServiceError> {
    env.call::<GetCustomer>(Envelope::params(CustomerIdParams::new(id)))
        .await
}

/// Applies `patch` to customer `id` as a signed-in user.
async fn update(
    env: &ServiceApp,
    id: &str,
    patch: CustomerPatch,
) -> Result<Customer, ServiceError> {
    let params = CustomerIdParams::new(id);
    env.call::<UpdateCustomer>(Envelope::new(params, contract::Empty {}, patch))
        .await
}

/// How many customers a search for `q` finds (all of them without one).
async fn count(env: &ServiceApp, q: Option<&str>) -> u64 {
    let query = ListCustomersQuery {
        q: q.map(str::to_owned),
        ..ListCustomersQuery::default()
    };
    let page = env.call::<ListCustomers>(Envelope::query(query)).await;
    page.unwrap().total
}

#[tokio::test]
async fn round_trip_conflict_and_missing() {
    let (_stack, env) = start().await;
    let created = create(&env, "newco", "New Co").await.unwrap();
    assert_eq!(created.customer_id, "NEWCO", "ids are stored upper-cased");
    assert_eq!(created.contact.city.as_deref(), Some("Oslo"));
    assert_eq!(created.contact.fax, None);

    let got = get(&env, "NEWCO").await.unwrap();
    assert_eq!(got, created);

    // Duplicate id (in either case) → 409.
    assert_status(create(&env, "NEWCO", "Again").await, 409);
    assert_status(create(&env, "ALFKI", "Again").await, 409);

    // Partial update: absent fields stay, null clears, values set.
    let patch = CustomerPatch {
        company_name: Some(Some("New Co AS".into())),
        city: Some(None),
        phone: Some(Some("+47 1234".into())),
        ..CustomerPatch::default()
    };
    let updated = update(&env, "newco", patch).await.unwrap();
    assert_eq!(updated.company_name, "New Co AS");
    assert_eq!(updated.contact.city, None);
    assert_eq!(updated.contact.country.as_deref(), Some("Norway"));
    assert_eq!(updated.contact.phone.as_deref(), Some("+47 1234"));
    let got = get(&env, "NEWCO").await.unwrap();
    assert_eq!(got, updated);
    // An empty patch changes nothing.
    let same = update(&env, "NEWCO", CustomerPatch::default())
        .await
        .unwrap();
    assert_eq!(same, updated);

    // Delete needs admin; then the row is gone and a second delete is 404.
    let params = || Envelope::params(CustomerIdParams::new("NEWCO"));
    assert_status(env.call::<DeleteCustomer>(params()).await, 403);
    assert_status(env.call_as::<DeleteCustomer>(None, params()).await, 401);
    env.admin::<DeleteCustomer>(params()).await.unwrap();
    for err in [
        env.call::<GetCustomer>(params()).await.unwrap_err(),
        env.admin::<DeleteCustomer>(params()).await.unwrap_err(),
        update(&env, "NEWCO", CustomerPatch::default())
            .await
            .unwrap_err(),
        // An id that cannot exist is 404 too, without touching the database.
        get(&env, "x' OR '1'='1").await.unwrap_err(),
    ] {
        assert_eq!(err.status(), 404, "{err:?}");
    }
    assert_eq!(count(&env, None).await, 91);
}

#[tokio::test]
async fn hostile_text_is_stored_and_returned_literally() {
    let (_stack, env) = start().await;
    let evil = "Robert'); DROP TABLE customers;--";
    let mut body = new_customer("BOBBY", evil);
    body.contact_name = Some("%_\\' OR 1=1 --".into());
    body.region = Some("😀 Ünïcødé".into());
    let created = env
        .call::<CreateCustomer>(Envelope::body(body))
        .await
        .unwrap();
    assert_eq!(created.company_name, evil);
    let got = get(&env, "BOBBY").await.unwrap();
    assert_eq!(got.company_name, evil);
    assert_eq!(got.contact.contact_name.as_deref(), Some("%_\\' OR 1=1 --"));
    assert_eq!(got.contact.region.as_deref(), Some("😀 Ünïcødé"));
    // Searching for the hostile text finds exactly that row.
    for text in ["'); DROP", "%_\\"] {
        assert_eq!(count(&env, Some(text)).await, 1, "{text}");
    }
    assert_eq!(count(&env, None).await, 92, "the table is intact");
}
