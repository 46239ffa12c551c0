//! Listing: seeded counts, pagination edges, search, filters and sorting.

use contract::customers::{Customer, ListCustomers, ListCustomersQuery};
use contract::page::{MAX_LIMIT, Page};
use contract::{Envelope, ServiceError};
use runtime::test_support::ServiceApp;

use crate::support::{assert_invalid, start};

/// Lists as a signed-in user, with the default query changed by `f`.
async fn list(
    env: &ServiceApp,
    f: impl FnOnce(&mut ListCustomersQuery),
) -> Result<Page<Customer>, ServiceError> {
    let mut q = ListCustomersQuery::default();
    f(&mut q);
    env.call::<ListCustomers>(Envelope::query(q)).await
}

#[tokio::test]
async fn seeded_rows_and_pagination_edges() {
    let (_stack, env) = start().await;
    let first = list(&env, |_| {}).await.unwrap();
    assert_eq!(
        (first.total, first.page, first.limit, first.pages),
        (91, 1, 20, 5)
    );
    assert_eq!(first.data.len(), 20);
    assert_eq!(first.data[0].customer_id, "ALFKI");
    assert_eq!(first.data[0].company_name, "Alfreds Futterkiste");

    // The last page holds the remainder; past the end is empty, not an error.
    let last = list(&env, |q| q.page = Some(5)).await.unwrap();
    assert_eq!(last.data.len(), 11);
    assert_eq!(last.data.last().unwrap().customer_id, "WOLZA");
    let past = list(&env, |q| q.page = Some(6)).await.unwrap();
    assert!(past.data.is_empty());
    assert_eq!((past.total, past.pages), (91, 5));

    // Pages of any size tile the whole table without overlap (stable order).
    let all = list(&env, |q| q.limit = Some(MAX_LIMIT)).await.unwrap();
    assert_eq!(all.data.len(), 91);
    let mut paged = Vec::new();
    for page in 1..=10 {
        let p = list(&env, |q| {
            q.page = Some(page);
            q.limit = Some(10);
            q.sort = Some("country".into());
        })
        .await
        .unwrap();
        paged.extend(p.data.into_iter().map(|c| c.customer_id));
    }
    let mut sorted = paged.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 91, "pages overlapped or skipped rows");

    // Over the cap, zero, or a bad sort: 422 naming the parameter.
    assert_invalid(list(&env, |q| q.limit = Some(MAX_LIMIT + 1)).await, "limit");
    assert_invalid(list(&env, |q| q.limit = Some(0)).await, "limit");
    assert_invalid(list(&env, |q| q.page = Some(0)).await, "page");
    assert_invalid(
        list(&env, |q| {
            q.sort = Some("company_name; DROP TABLE customers".into());
        })
        .await,
        "sort",
    );
    // Malformed numbers are 400, as the gateway would forward them (strings).
    let err = env
        .raw_error("customers.list", r#"{"query":{"page":"abc"}}"#)
        .await;
    assert_eq!(err.status(), 400, "{err:?}");
    let err = env
        .raw_error("customers.list", r#"{"query":{"contry":"UK"}}"#)
        .await;
    assert_eq!(err.status(), 400, "{err:?}");
}

#[tokio::test]
async fn search_filters_and_sort() {
    let (_stack, env) = start().await;
    // Case-insensitive search over company and contact names.
    let hits = list(&env, |q| q.q = Some("FUTTERKISTE".into()))
        .await
        .unwrap();
    assert_eq!(hits.total, 1);
    assert_eq!(hits.data[0].customer_id, "ALFKI");
    let by_contact = list(&env, |q| q.q = Some("maria anders".into()))
        .await
        .unwrap();
    assert_eq!(by_contact.data[0].customer_id, "ALFKI");
    // Non-ASCII text matches.
    let accented = list(&env, |q| q.q = Some("Taquería".into())).await.unwrap();
    assert_eq!(accented.data[0].customer_id, "ANTON");
    // `%` and `_` are literal, not wildcards.
    for wildcard in ["%", "_"] {
        let none = list(&env, |q| q.q = Some(wildcard.into())).await.unwrap();
        assert_eq!(none.total, 0, "{wildcard}");
    }

    let uk = list(&env, |q| q.country = Some("uk".into())).await.unwrap();
    assert_eq!(uk.total, 7);
    assert!(
        uk.data
            .iter()
            .all(|c| c.contact.country.as_deref() == Some("UK"))
    );
    let london = list(&env, |q| {
        q.country = Some("UK".into());
        q.city = Some("London".into());
    })
    .await
    .unwrap();
    assert_eq!(london.total, 6);
    let city_only = list(&env, |q| q.city = Some("london".into()))
        .await
        .unwrap();
    assert_eq!(city_only.total, 6);

    let desc = list(&env, |q| q.sort = Some("-company_name".into()))
        .await
        .unwrap();
    let names: Vec<_> = desc.data.iter().map(|c| c.company_name.clone()).collect();
    let mut expected = names.clone();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, expected);
    let by_id_desc = list(&env, |q| q.sort = Some("-customer_id".into()))
        .await
        .unwrap();
    assert_eq!(by_id_desc.data[0].customer_id, "WOLZA");
}
