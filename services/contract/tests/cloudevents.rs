//! The events the services publish are CloudEvents 1.0 as the CloudEvents SDK reads them: our
//! typed struct and the SDK agree on every attribute, including the Auth Context extension.

use cloudevents::{AttributesReader as _, Event};
use contract::events::{CloudEvent, EventType};

#[test]
fn the_sdk_reads_our_events() {
    let ours = CloudEvent::new(
        EventType::ProductUpdated,
        "0193b3c4-0000-7000-8000-000000000001",
        "77",
        "2026-12-06T10:00:00Z",
        Some("user-1".to_owned()),
        serde_json::json!({"productId": 77, "unitPrice": "18.00"}),
    );
    let json = serde_json::to_string(&ours).unwrap();
    let event: Event = serde_json::from_str(&json).expect("a CloudEvents 1.0 JSON event");
    assert_eq!(event.id(), ours.id);
    assert_eq!(event.ty(), "products.updated");
    assert_eq!(event.source().to_string(), "/natstack/products");
    assert_eq!(event.subject(), Some("77"));
    assert_eq!(event.datacontenttype(), Some("application/json"));
    assert_eq!(
        event.time().map(|t| t.to_rfc3339()),
        Some("2026-12-06T10:00:00+00:00".to_owned())
    );
    assert_eq!(
        event.extension("authtype").map(ToString::to_string),
        Some("user".to_owned())
    );
    assert_eq!(
        event.extension("authid").map(ToString::to_string),
        Some("user-1".to_owned())
    );
    let back: CloudEvent<serde_json::Value> =
        serde_json::from_str(&serde_json::to_string(&event).unwrap()).unwrap();
    assert_eq!(back, ours);
}
