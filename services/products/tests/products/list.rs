//! Listing: seeded counts, pagination edges, every filter, sorting, categories, suppliers.

use contract::Envelope;
use contract::page::{MAX_LIMIT, PageQuery};
use contract::products::{ListCategories, ListProducts, ListProductsQuery, ListSuppliers, Price};

use crate::support::{assert_invalid, start};

type Req = Envelope<contract::Empty, ListProductsQuery, ()>;

fn query(f: impl FnOnce(&mut ListProductsQuery)) -> Req {
    let mut q = ListProductsQuery::default();
    f(&mut q);
    Envelope::query(q)
}

fn price(s: &str) -> Price {
    s.parse().unwrap()
}

#[tokio::test]
async fn seeded_rows_pagination_and_exact_money() {
    let (_stack, env) = start().await;
    let first = env.call::<ListProducts>(query(|_| {})).await.unwrap();
    assert_eq!((first.total, first.pages, first.data.len()), (77, 4, 20));
    let chai = &first.data[0];
    assert_eq!(chai.product_name, "Chai");
    assert_eq!(chai.unit_price.as_ref().unwrap().as_str(), "18.00");
    let json = serde_json::to_value(chai).unwrap();
    assert_eq!(json["unit_price"], "18.00", "money is an exact JSON string");
    assert_eq!(chai.category_name.as_deref(), Some("Beverages"));
    assert_eq!(
        chai.supplier_name.as_deref(),
        Some("Specialty Biscuits, Ltd.")
    );
    assert!(chai.discontinued, "Chai is discontinued in this data set");
    let last = env
        .call::<ListProducts>(query(|q| q.page = Some(4)))
        .await
        .unwrap();
    assert_eq!(last.data.len(), 17);
    let past = env
        .call::<ListProducts>(query(|q| q.page = Some(5)))
        .await
        .unwrap();
    assert!(past.data.is_empty());
    assert_eq!(past.total, 77);
    assert_invalid(
        env.call::<ListProducts>(query(|q| q.limit = Some(MAX_LIMIT + 1)))
            .await,
        "limit",
    );
    assert_invalid(
        env.call::<ListProducts>(query(|q| q.sort = Some("unit_price desc".into())))
            .await,
        "sort",
    );

    let categories = env
        .call::<ListCategories>(Envelope::query(PageQuery::default()))
        .await
        .unwrap();
    assert_eq!((categories.total, categories.data.len()), (8, 8));
    assert_eq!(categories.data[0].category_name, "Beverages");
    let suppliers = env
        .call::<ListSuppliers>(Envelope::query(PageQuery::default()))
        .await
        .unwrap();
    assert_eq!(
        (suppliers.total, suppliers.pages, suppliers.data.len()),
        (29, 2, 20)
    );
    let rest = env
        .call::<ListSuppliers>(Envelope::query(PageQuery {
            page: Some(2),
            limit: None,
        }))
        .await
        .unwrap();
    assert_eq!(rest.data.len(), 9);
    assert_invalid(
        env.call::<ListSuppliers>(Envelope::query(PageQuery {
            page: Some(0),
            limit: None,
        }))
        .await,
        "page",
    );
    let err = env
        .raw_error("products.categories", r#"{"query":{"sort":"x"}}"#)
        .await;
    assert_eq!(err.status(), 400);
}

#[tokio::test]
async fn every_filter_and_sort() {
    let (_stack, env) = start().await;
    let all = |f: fn(&mut ListProductsQuery)| {
        let env = &env;
        async move {
            env.call::<ListProducts>(query(|q| {
                q.limit = Some(MAX_LIMIT);
                f(q);
            }))
            .await
            .unwrap()
        }
    };
    let hits = all(|q| q.q = Some("CHAI".into())).await;
    assert_eq!(hits.total, 1);
    assert_eq!(all(|q| q.q = Some("%".into())).await.total, 0);
    let beverages = all(|q| q.category_id = Some(1)).await;
    assert_eq!(beverages.total, 12);
    assert!(beverages.data.iter().all(|p| p.category_id == Some(1)));
    let exotic = all(|q| q.supplier_id = Some(1)).await;
    assert_eq!(exotic.total, 2);
    assert_eq!(all(|q| q.discontinued = Some(true)).await.total, 10);
    assert_eq!(all(|q| q.discontinued = Some(false)).await.total, 67);
    let cheap = all(|q| q.max_price = Some("10".parse().unwrap())).await;
    assert!(cheap.total > 0);
    assert!(cheap.data.iter().all(|p| {
        p.unit_price
            .as_ref()
            .unwrap()
            .as_str()
            .parse::<f64>()
            .unwrap()
            <= 10.0
    }));
    let band = all(|q| {
        q.min_price = Some("18".parse().unwrap());
        q.max_price = Some("18.00".parse().unwrap());
    })
    .await;
    assert!(
        band.data
            .iter()
            .all(|p| p.unit_price == Some(price("18.00")))
    );
    assert!(band.data.iter().any(|p| p.product_name == "Chai"));
    let out = all(|q| q.in_stock = Some(false)).await;
    assert_eq!(out.total, 5);
    assert!(out.data.iter().all(|p| p.units_in_stock == Some(0)));
    assert_eq!(all(|q| q.in_stock = Some(true)).await.total, 72);
    let combined = all(|q| {
        q.category_id = Some(1);
        q.discontinued = Some(false);
        q.in_stock = Some(true);
    })
    .await;
    assert!(combined.total > 0 && combined.total < 12);

    let by_price = all(|q| q.sort = Some("-unit_price".into())).await;
    assert_eq!(by_price.data[0].product_name, "Côte de Blaye");
    assert_eq!(by_price.data[0].unit_price, Some(price("263.50")));
    let by_name = all(|q| q.sort = Some("product_name".into())).await;
    let names: Vec<_> = by_name
        .data
        .iter()
        .map(|p| p.product_name.clone())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // Query strings as the gateway forwards them.
    let err = env
        .raw_error("products.list", r#"{"query":{"category_id":"one"}}"#)
        .await;
    assert_eq!(err.status(), 400);
    let err = env
        .raw_error("products.list", r#"{"query":{"min_price":"1e9"}}"#)
        .await;
    assert_eq!(err.status(), 400);
    // Numbers past what the column holds are out of range, not "match everything".
    for (field, value) in [
        ("min_price", "9223372036854775808"),
        ("max_price", "-100000000"),
    ] {
        let err = env
            .raw_error(
                "products.list",
                &format!(r#"{{"query":{{"{field}":"{value}"}}}}"#),
            )
            .await;
        assert_eq!(err.status(), 422, "{field}={value}");
    }
}
