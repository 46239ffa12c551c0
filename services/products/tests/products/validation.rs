//! Each kind of bad input gets its own clear status: 422 with the field for invalid values,
//! 400 for malformed requests, never a 500.

use contract::Envelope;
use contract::products::{CreateProduct, NewProduct, ProductIdParams, ProductPatch, UpdateProduct};

use crate::support::{assert_invalid, start, update};

fn valid() -> NewProduct {
    NewProduct {
        product_name: Some("Valid".into()),
        ..NewProduct::default()
    }
}

#[tokio::test]
async fn invalid_values_are_422_with_the_field() {
    let (_stack, env) = start().await;
    let create = |body: NewProduct| env.call::<CreateProduct>(Envelope::body(body));
    let p = |s: &str| Some(s.parse().unwrap());
    for (field, body) in [
        (
            "product_name",
            NewProduct {
                product_name: None,
                ..valid()
            },
        ),
        (
            "product_name",
            NewProduct {
                product_name: Some(" ".into()),
                ..valid()
            },
        ),
        (
            "product_name",
            NewProduct {
                product_name: Some("x".repeat(41)),
                ..valid()
            },
        ),
        (
            "quantity_per_unit",
            NewProduct {
                quantity_per_unit: Some("x".repeat(21)),
                ..valid()
            },
        ),
        (
            "units_in_stock",
            NewProduct {
                units_in_stock: Some(-1),
                ..valid()
            },
        ),
        (
            "units_in_stock",
            NewProduct {
                units_in_stock: Some(32_768),
                ..valid()
            },
        ),
        (
            "units_on_order",
            NewProduct {
                units_on_order: Some(-5),
                ..valid()
            },
        ),
        (
            "reorder_level",
            NewProduct {
                reorder_level: Some(1 << 40),
                ..valid()
            },
        ),
        (
            "unit_price",
            NewProduct {
                unit_price: p("-0.01"),
                ..valid()
            },
        ),
        (
            "unit_price",
            NewProduct {
                unit_price: p("1.005"),
                ..valid()
            },
        ),
        (
            "unit_price",
            NewProduct {
                unit_price: p("100000000.00"),
                ..valid()
            },
        ),
        (
            "category_id",
            NewProduct {
                category_id: Some(0),
                ..valid()
            },
        ),
        (
            "category_id",
            NewProduct {
                category_id: Some(99),
                ..valid()
            },
        ),
        (
            "supplier_id",
            NewProduct {
                supplier_id: Some(30),
                ..valid()
            },
        ),
        (
            "supplier_id",
            NewProduct {
                supplier_id: Some(70_000),
                ..valid()
            },
        ),
    ] {
        assert_invalid(create(body).await, field);
    }
    // The boundaries themselves are fine.
    let ok = create(NewProduct {
        units_in_stock: Some(32_767),
        unit_price: p("99999999.99"),
        product_name: Some("é".repeat(40)),
        ..valid()
    })
    .await
    .unwrap();
    assert_eq!(ok.unit_price.unwrap().as_str(), "99999999.99");

    // A patch of product 1 with one field set by `set`.
    let patch = |set: fn(&mut ProductPatch)| {
        let mut body = ProductPatch::default();
        set(&mut body);
        env.call::<UpdateProduct>(update(ProductIdParams::new(1), body))
    };
    assert_invalid(patch(|p| p.product_name = Some(None)).await, "product_name");
    assert_invalid(patch(|p| p.discontinued = Some(None)).await, "discontinued");
    assert_invalid(
        patch(|p| p.reorder_level = Some(Some(-1))).await,
        "reorder_level",
    );
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let (_stack, env) = start().await;
    for (subject, json) in [
        (
            "products.create",
            r#"{"body":{"product_name":"X","colour":"red"}}"#,
        ),
        (
            "products.create",
            r#"{"body":{"product_name":"X","product_id":5}}"#,
        ),
        (
            "products.create",
            r#"{"body":{"product_name":"X","unit_price":"cheap"}}"#,
        ),
        (
            "products.create",
            r#"{"body":{"product_name":"X","units_in_stock":"many"}}"#,
        ),
        (
            "products.create",
            r#"{"body":{"product_name":"X","discontinued":1}}"#,
        ),
        ("products.create", r#"[1,2"#),
        (
            "products.update",
            r#"{"params":{"id":"1"},"body":{"units_in_stock":1.5}}"#,
        ),
        ("products.update", r#"{"params":{},"body":{}}"#),
    ] {
        let err = env.raw_error(subject, json).await;
        assert_eq!(err.status(), 400, "{subject} {json}: {err:?}");
    }
}
