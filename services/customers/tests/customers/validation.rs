//! Each kind of bad input gets its own clear status: 422 with the field for invalid values,
//! 400 for malformed requests, never a 500.

use contract::Envelope;
use contract::customers::{
    CreateCustomer, CustomerIdParams, CustomerPatch, NewCustomer, UpdateCustomer,
};

use crate::support::{assert_invalid, start};

/// A valid new customer, then changed by `set` into the case under test.
fn valid_with(set: impl FnOnce(&mut NewCustomer)) -> NewCustomer {
    let mut body = NewCustomer {
        customer_id: Some("VALID".into()),
        company_name: Some("Valid Ltd".into()),
        ..NewCustomer::default()
    };
    set(&mut body);
    body
}

#[tokio::test]
async fn invalid_values_are_422_with_the_field() {
    let (_stack, env) = start().await;
    let create = |body: NewCustomer| env.call::<CreateCustomer>(Envelope::body(body));

    for bad_id in [
        None,
        Some("ABCD"),
        Some("ABCDEF"),
        Some("AB1DE"),
        Some("AB DE"),
        Some("ÄBCDE"),
    ] {
        let body = valid_with(|c| c.customer_id = bad_id.map(Into::into));
        assert_invalid(create(body).await, "customer_id");
    }
    // Every column is length-checked in characters: 15 accented letters fit a varchar(15).
    let ok = create(valid_with(|c| c.city = Some("é".repeat(15))))
        .await
        .unwrap();
    assert_eq!(ok.contact.city.unwrap().chars().count(), 15);
    // One character over each column's limit, blank and missing required text, a NUL byte.
    let over = |len: usize| Some("x".repeat(len));
    for (field, body) in [
        ("company_name", valid_with(|c| c.company_name = None)),
        (
            "company_name",
            valid_with(|c| c.company_name = Some("   ".into())),
        ),
        ("company_name", valid_with(|c| c.company_name = over(41))),
        ("contact_name", valid_with(|c| c.contact_name = over(31))),
        ("contact_title", valid_with(|c| c.contact_title = over(31))),
        ("address", valid_with(|c| c.address = over(61))),
        ("city", valid_with(|c| c.city = over(16))),
        ("region", valid_with(|c| c.region = over(16))),
        ("postal_code", valid_with(|c| c.postal_code = over(11))),
        ("country", valid_with(|c| c.country = over(16))),
        ("phone", valid_with(|c| c.phone = over(25))),
        ("fax", valid_with(|c| c.fax = over(25))),
        ("city", valid_with(|c| c.city = Some("nul\0byte".into()))),
    ] {
        // An id not taken by the customer accepted above: a missed check shows as a
        // success, not as a conflict.
        let body = NewCustomer {
            customer_id: Some("OTHER".into()),
            ..body
        };
        assert_invalid(create(body).await, field);
    }
    // Several problems are reported together.
    let err = create(valid_with(|c| {
        c.customer_id = Some("X".into());
        c.company_name = None;
    }))
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
