//! Golden JSON tests: the wire format is pinned byte for byte by the files in `golden/`.
//! A failing test here means a wire-format change: update the file only on purpose.

use std::collections::BTreeMap;

use contract::{
    AuthLevel, Empty, EndpointMeta, Envelope, ErrorCode, FieldError, HttpMethod, Operation,
    ServiceError, operation,
};
use serde::{Deserialize, Serialize};

fn golden(name: &str) -> String {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap()
        .trim_end()
        .to_owned()
}

#[test]
fn untyped_envelope() {
    let envelope: Envelope = Envelope::new(
        BTreeMap::from([("id".into(), "ALFKI".into())]),
        BTreeMap::from([("q".into(), "café".into()), ("limit".into(), "20".into())]),
        serde_json::Value::Null,
    );
    assert_eq!(
        serde_json::to_string(&envelope).unwrap(),
        golden("envelope.json")
    );
    let back: Envelope = serde_json::from_str(&golden("envelope.json")).unwrap();
    assert_eq!(back, envelope);
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    #[serde(default, deserialize_with = "contract::de::opt_from_str")]
    page: Option<u32>,
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewThing {
    name: String,
    price: String,
}

#[test]
fn typed_envelope_reads_what_the_gateway_writes() {
    let typed: Envelope<Empty, PageQuery, NewThing> = Envelope::new(
        Empty {},
        PageQuery { page: Some(2) },
        NewThing {
            name: "Chai".into(),
            price: "18.00".into(),
        },
    );
    assert_eq!(
        serde_json::to_string(&typed).unwrap(),
        golden("envelope_typed.json")
    );
    // The gateway sends query values as strings; the typed side accepts them.
    let from_gateway =
        r#"{"params":{},"query":{"page":"2"},"body":{"name":"Chai","price":"18.00"}}"#;
    let back: Envelope<Empty, PageQuery, NewThing> = serde_json::from_str(from_gateway).unwrap();
    assert_eq!(back, typed);
}

#[test]
fn envelope_parts_default_and_unknown_parts_are_refused() {
    let only_body: Envelope = serde_json::from_str(r#"{"body":{"a":1}}"#).unwrap();
    assert!(only_body.params.is_empty() && only_body.query.is_empty());
    assert!(serde_json::from_str::<Envelope>(r#"{"bdy":{}}"#).is_err());
    // Empty refuses stray parameters rather than ignoring them.
    assert!(serde_json::from_str::<Envelope<Empty, Empty, ()>>(r#"{"query":{"x":"1"}}"#).is_err());
    assert!(
        serde_json::from_str::<Envelope<Empty, Empty, ()>>(r#"{"params":{},"query":{}}"#).is_ok()
    );
}

#[test]
fn error_bodies() {
    let not_found = ServiceError::not_found("customer ZZZZZ not found");
    assert_eq!(
        serde_json::to_string(&not_found).unwrap(),
        golden("error_not_found.json")
    );

    let invalid = ServiceError::validation(vec![
        FieldError::new("company_name", "must not be empty"),
        FieldError::new("phone", "at most 24 characters"),
    ])
    .with_request_id("req-1")
    .with_retry_after(5);
    assert_eq!(
        serde_json::to_string(&invalid).unwrap(),
        golden("error_validation.json")
    );
    let back: ServiceError = serde_json::from_str(&golden("error_validation.json")).unwrap();
    assert_eq!(back.code, ErrorCode::ValidationFailed);
    assert_eq!(back.field_errors().len(), 2);
    // Retry-After travels in a header, never in the body.
    assert_eq!(back.retry_after_secs, None);
}

operation! {
    /// Delete a customer
    pub DeleteCustomer: "customers"."delete", DELETE "/customers/{id}", auth Admin, status 204,
        params BTreeMap<String, String>, query Empty, body (), response ()
}

#[test]
fn endpoint_metadata() {
    assert_eq!(DeleteCustomer::subject(), "customers.delete");
    let meta = DeleteCustomer::meta();
    assert_eq!(
        meta,
        EndpointMeta {
            method: HttpMethod::Delete,
            path: "/customers/{id}".into(),
            auth: AuthLevel::Admin,
            success_status: 204,
            summary: Some("Delete a customer".into()),
        }
    );
    let sorted: BTreeMap<_, _> = meta.to_metadata().into_iter().collect();
    assert_eq!(
        serde_json::to_string(&sorted).unwrap(),
        golden("endpoint_metadata.json")
    );
}
