//! Each kind of bad input gets its own clear status: 422 with the field for invalid values,
//! 400 for malformed requests, never a 500.

use contract::Envelope;
use contract::customers::{
    CreateCustomer, CustomerIdParams, CustomerPatch, NewCustomer, UpdateCustomer,
};

use crate::support::{assert_invalid, start};

fn valid() -> NewCustomer {
    NewCustomer {
        customer_id: Some("VALID".into()),
        company_name: Some("Valid Ltd".into()),
        ..NewCustomer::default()
    }
}

#[tokio::test]
async fn invalid_values_are_422_with_the_field() {
    let (_stack, env) = start().await;
    let create = |body: NewCustomer| env.call::<CreateCustomer>(Envelope::body(body));

    assert_invalid(
        create(NewCustomer {
            customer_id: None,
            ..valid()
        })
        .await,
        "customer_id",
    );
    assert_invalid(
        create(NewCustomer {
            company_name: None,
            ..valid()
        })
        .await,
        "company_name",
    );
    assert_invalid(
        create(NewCustomer {
            company_name: Some("   ".into()),
            ..valid()
        })
        .await,
        "company_name",
    );
    for bad_id in ["ABCD", "ABCDEF", "AB1DE", "AB DE", "ÄBCDE"] {
        assert_invalid(
            create(NewCustomer {
                customer_id: Some(bad_id.into()),
                ..valid()
            })
            .await,
            "customer_id",
        );
    }
    // Every column is length-checked in characters: 15 accented letters fit a varchar(15).
    let ok = create(NewCustomer {
        city: Some("é".repeat(15)),
        ..valid()
    })
    .await
    .unwrap();
    assert_eq!(ok.city.unwrap().chars().count(), 15);
    for (field, body) in [
        (
            "company_name",
            NewCustomer {
                company_name: Some("x".repeat(41)),
                ..valid()
            },
        ),
        (
            "contact_name",
            NewCustomer {
                contact_name: Some("x".repeat(31)),
                ..valid()
            },
        ),
        (
            "contact_title",
            NewCustomer {
                contact_title: Some("x".repeat(31)),
                ..valid()
            },
        ),
        (
            "address",
            NewCustomer {
                address: Some("x".repeat(61)),
                ..valid()
            },
        ),
        (
            "city",
            NewCustomer {
                city: Some("x".repeat(16)),
                ..valid()
            },
        ),
        (
            "region",
            NewCustomer {
                region: Some("x".repeat(16)),
                ..valid()
            },
        ),
        (
            "postal_code",
            NewCustomer {
                postal_code: Some("x".repeat(11)),
                ..valid()
            },
        ),
        (
            "country",
            NewCustomer {
                country: Some("x".repeat(16)),
                ..valid()
            },
        ),
        (
            "phone",
            NewCustomer {
                phone: Some("x".repeat(25)),
                ..valid()
            },
        ),
        (
            "fax",
            NewCustomer {
                fax: Some("x".repeat(25)),
                ..valid()
            },
        ),
        (
            "city",
            NewCustomer {
                city: Some("nul\0byte".into()),
                ..valid()
            },
        ),
    ] {
        assert_invalid(
            create(NewCustomer {
                customer_id: Some("OTHER".into()),
                ..body
            })
            .await,
            field,
        );
    }
    // Several problems are reported together.
    let err = create(NewCustomer {
        customer_id: Some("X".into()),
        company_name: None,
        ..valid()
    })
    .await
    .unwrap_err();
    assert_eq!(err.field_errors().len(), 2, "{err:?}");

    // PATCH: company_name cannot be null; values are checked like on create.
    // A patch of ALFKI with one field set by `set`.
    let patch = |set: fn(&mut CustomerPatch)| {
        let mut body = CustomerPatch::default();
        set(&mut body);
        let params = CustomerIdParams::new("ALFKI");
        env.call::<UpdateCustomer>(Envelope::new(params, contract::Empty {}, body))
    };
    assert_invalid(patch(|c| c.company_name = Some(None)).await, "company_name");
    assert_invalid(patch(|c| c.fax = Some(Some("x".repeat(25)))).await, "fax");
    // Search text is bounded too.
    let err = env
        .call::<contract::customers::ListCustomers>(Envelope::query(
            contract::customers::ListCustomersQuery {
                q: Some("x".repeat(101)),
                ..Default::default()
            },
        ))
        .await;
    assert_invalid(err, "q");
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let (_stack, env) = start().await;
    for (subject, json) in [
        (
            "customers.create",
            r#"{"body":{"customer_id":"ABCDE","company_name":"X","colour":"red"}}"#,
        ),
        (
            "customers.create",
            r#"{"body":{"customer_id":12345,"company_name":"X"}}"#,
        ),
        ("customers.create", r#"{"body":"not an object"}"#),
        ("customers.create", r#"{not json"#),
        (
            "customers.update",
            r#"{"params":{"id":"ALFKI"},"body":{"customer_id":"OTHER"}}"#,
        ),
        (
            "customers.update",
            r#"{"params":{"id":"ALFKI"},"body":{"city":7}}"#,
        ),
        ("customers.get", r#"{"params":{"id":"ALFKI","extra":"1"}}"#),
    ] {
        let err = env.raw_error(subject, json).await;
        assert_eq!(err.status(), 400, "{subject} {json}: {err:?}");
    }
}
