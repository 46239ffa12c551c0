//! Each component, connected with its rendered credentials, can do what it needs and no more;
//! the runtime's own serve and call work under those permissions.

use std::time::Duration;

use contract::Envelope;
use runtime::config::ExposeSecret;
use runtime::serve::{RequestContext, ServiceBuilder};
use runtime::test_support::wait_for_instance;
use runtime::{CallOptions, Requester};

use super::support::{Ports, Rendered, Server, errors_for, serve};
use crate::common;

// `customers.list`, answered by a stand-in with the runtime's real serving code.
contract::operation! {
    /// List customers
    List: "customers"."list", GET "/customers", auth Public, status 200,
        params (), query (), body (), response serde_json::Value
}

async fn list(
    _: (),
    _: RequestContext,
    _: Envelope<(), (), ()>,
) -> Result<serde_json::Value, contract::ServiceError> {
    Ok(serde_json::json!([{"id": "ALFKI"}]))
}

fn password(rendered: &Rendered, user: &str) -> String {
    let args = rendered.nats_args(user, "");
    assert_eq!(args.nats_user.as_deref(), Some(user));
    args.nats_password.unwrap().expose_secret().to_owned()
}

#[tokio::test]
async fn each_component_can_do_what_it_needs_and_no_more() {
    let rendered = Rendered::new(common::load("minimal"));
    let server = Server::rendered(&rendered, "demo-nats-0", Ports::free(), &[]).await;
    let url = server.url();

    // customers serves with the runtime, as the customers user.
    let customers_args = rendered.nats_args("customers", &url);
    let customers = runtime::connect::connect(&customers_args, "customers", true)
        .await
        .unwrap();
    let service =
        ServiceBuilder::new("customers", "1.0.0", "stand-in", ()).endpoint::<List, _>(list);
    let (id, serving) = serve(service, &customers).await;

    // The gateway discovers it and calls it; the reply arrives in the gateway's own inbox.
    let gateway_args = rendered.nats_args("gateway", &url);
    let gateway_inbox = gateway_args.nats_inbox_prefix.clone();
    assert_ne!(gateway_inbox, customers_args.nats_inbox_prefix);
    let gateway = runtime::connect::connect(&gateway_args, "gateway", true)
        .await
        .unwrap();
    wait_for_instance(&gateway, "customers", &id).await;
    let requester = Requester::new(gateway.clone()).await.unwrap();
    assert!(format!("{requester:?}").contains(&format!("{gateway_inbox}.")));
    let reply = requester
        .call::<List>(
            &Envelope::default(),
            CallOptions::timeout(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    assert_eq!(reply, serde_json::json!([{"id": "ALFKI"}]));
    // Serving, discovery and calling needed nothing the permissions refuse.
    let log = server.log();
    assert!(!log.contains("Violation"), "{log}");

    // A service can neither read nor write the gateway's replies, nor call another service.
    let customers_pw = password(&rendered, "customers");
    let as_customers = Some(("customers", customers_pw.as_str()));
    let errors = errors_for(
        server.ports.client,
        as_customers,
        &format!(
            "SUB {gateway_inbox}.> 1\r\nPUB {gateway_inbox}.x.1 2\r\nhi\r\nPUB products.list 2\r\nhi\r\n\
             PUB auth.jwks 2\r\nhi\r\nSUB products.> 2\r\nSUB _INBOX.> 3\r\n"
        ),
    )
    .await;
    assert_eq!(
        errors,
        [
            format!("-ERR 'Permissions Violation for Subscription to \"{gateway_inbox}.>\"'"),
            format!("-ERR 'Permissions Violation for Publish to \"{gateway_inbox}.x.1\"'"),
            "-ERR 'Permissions Violation for Publish to \"products.list\"'".to_owned(),
            "-ERR 'Permissions Violation for Publish to \"auth.jwks\"'".to_owned(),
            "-ERR 'Permissions Violation for Subscription to \"products.>\"'".to_owned(),
            "-ERR 'Permissions Violation for Subscription to \"_INBOX.>\"'".to_owned(),
        ]
    );
    // The gateway cannot serve a service's subjects or read another inbox.
    let gateway_pw = password(&rendered, "gateway");
    let errors = errors_for(
        server.ports.client,
        Some(("gateway", gateway_pw.as_str())),
        "SUB customers.list 1\r\nSUB _INBOX_customers.> 2\r\nPUB customers.list 2\r\nhi\r\n",
    )
    .await;
    assert_eq!(
        errors,
        [
            "-ERR 'Permissions Violation for Subscription to \"customers.list\"'",
            "-ERR 'Permissions Violation for Subscription to \"_INBOX_customers.>\"'",
        ]
    );
    // No credentials, no connection.
    let errors = errors_for(server.ports.client, None, "").await;
    assert_eq!(errors, ["-ERR 'Authorization Violation'"]);

    serving.abort();
}

#[tokio::test]
async fn max_payload_fits_the_largest_body_the_gateway_accepts() {
    let mut stack = common::load("minimal");
    stack.spec.gateway.max_body_bytes = operator::manifests::nats::MAX_BODY_LIMIT;
    let rendered = Rendered::new(stack);
    let server = Server::rendered(&rendered, "demo-nats-0", Ports::free(), &[]).await;
    let gateway = rendered.connect("gateway", &server.url()).await;
    assert_eq!(
        gateway.server_info().max_payload,
        64 * 1024 * 1024,
        "a body at the cap plus its envelope fits"
    );

    let default = Rendered::new(common::load("minimal"));
    let body = usize::try_from(default.stack.spec.gateway.max_body_bytes).unwrap();
    let server = Server::rendered(&default, "demo-nats-0", Ports::free(), &[]).await;
    let gateway = default.connect("gateway", &server.url()).await;
    assert!(gateway.server_info().max_payload >= body + 64 * 1024);
}

#[tokio::test]
async fn a_service_hears_only_its_own_discovery_traffic() {
    let rendered = Rendered::new(common::load("minimal"));
    let server = Server::rendered(&rendered, "demo-nats-0", Ports::free(), &[]).await;
    let products_pw = password(&rendered, "products");
    // Every subscription that would hear another service's `$SRV.<verb>.<name>` is refused,
    // wildcards included (`$SRV.>` matched an allowed `$SRV.*` token by token before); the
    // products user's own discovery subjects and the bare verbs are not.
    let errors = errors_for(
        server.ports.client,
        Some(("products", products_pw.as_str())),
        "SUB $SRV.> 1\r\nSUB $SRV.*.* 2\r\nSUB $SRV.INFO.* 3\r\nSUB $SRV.INFO.auth 4\r\n\
         SUB $SRV.*.auth.* 5\r\nSUB > 6\r\nSUB $SRV.INFO 7\r\nSUB $SRV.PING 8\r\n\
         SUB $SRV.STATS 9\r\nSUB $SRV.INFO.products 10\r\nSUB $SRV.*.products.* 11\r\n",
    )
    .await;
    let refused = [
        "$SRV.>",
        "$SRV.*.*",
        "$SRV.INFO.*",
        "$SRV.INFO.auth",
        "$SRV.*.auth.*",
        ">",
    ];
    let want: Vec<String> = refused
        .iter()
        .map(|s| format!("-ERR 'Permissions Violation for Subscription to \"{s}\"'"))
        .collect();
    assert_eq!(errors, want);
}

#[tokio::test]
async fn services_publish_their_own_events_and_the_gateway_only_consumes_them() {
    use async_nats::jetstream::{self, consumer::pull::OrderedConfig};
    use futures::StreamExt as _;

    let rendered = Rendered::new(common::load("minimal"));
    let server = Server::rendered(&rendered, "demo-nats-0", Ports::free(), &[]).await;
    let url = server.url();

    // The gateway puts the stream in place with the stack's settings.
    let gateway = rendered.connect("gateway", &url).await;
    let settings = contract::events::StreamSettings::default();
    runtime::events::stream::ensure(&gateway, &settings)
        .await
        .unwrap();

    // A service publishes its own event and hears JetStream's acknowledgement in its inbox.
    let products = rendered.connect("products", &url).await;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", "event-1");
    let ack = jetstream::new(products.clone())
        .publish_with_headers("events.products.created", headers, "{}".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.stream, contract::events::STREAM);

    // The gateway reads it through an ordered consumer of its own.
    let consumer = jetstream::new(gateway.clone())
        .create_consumer_on_stream(
            OrderedConfig {
                name: Some("sse_test".into()),
                filter_subject: "events.products.*".into(),
                ..OrderedConfig::default()
            },
            contract::events::STREAM,
        )
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(message.subject.as_str(), "events.products.created");
    let log = server.log();
    assert!(!log.contains("Violation"), "{log}");

    // A service cannot speak for another, nor touch the JetStream API.
    let products_pw = password(&rendered, "products");
    let errors = errors_for(
        server.ports.client,
        Some(("products", products_pw.as_str())),
        "PUB events.customers.created 2\r\n{}\r\nPUB $JS.API.STREAM.CREATE.MINE 2\r\n{}\r\n\
         PUB $JS.API.STREAM.DELETE.EVENTS 2\r\n{}\r\nPUB $JS.API.CONSUMER.CREATE.EVENTS.x 2\r\n{}\r\n\
         PUB $JS.API.CONSUMER.DELETE.EVENTS.sse_test 2\r\n{}\r\nSUB events.> 1\r\n",
    )
    .await;
    assert_eq!(
        errors,
        [
            "-ERR 'Permissions Violation for Publish to \"events.customers.created\"'",
            "-ERR 'Permissions Violation for Publish to \"$JS.API.STREAM.CREATE.MINE\"'",
            "-ERR 'Permissions Violation for Publish to \"$JS.API.STREAM.DELETE.EVENTS\"'",
            "-ERR 'Permissions Violation for Publish to \"$JS.API.CONSUMER.CREATE.EVENTS.x\"'",
            "-ERR 'Permissions Violation for Publish to \"$JS.API.CONSUMER.DELETE.EVENTS.sse_test\"'",
            "-ERR 'Permissions Violation for Subscription to \"events.>\"'",
        ]
    );
    // The gateway cannot forge an event, delete the stream, or use other streams.
    let gateway_pw = password(&rendered, "gateway");
    let errors = errors_for(
        server.ports.client,
        Some(("gateway", gateway_pw.as_str())),
        "PUB events.products.created 2\r\n{}\r\nPUB $JS.API.STREAM.DELETE.EVENTS 2\r\n{}\r\n\
         PUB $JS.API.STREAM.CREATE.OTHER 2\r\n{}\r\nPUB $JS.API.STREAM.PURGE.EVENTS 2\r\n{}\r\n",
    )
    .await;
    assert_eq!(
        errors,
        [
            "-ERR 'Permissions Violation for Publish to \"events.products.created\"'",
            "-ERR 'Permissions Violation for Publish to \"$JS.API.STREAM.DELETE.EVENTS\"'",
            "-ERR 'Permissions Violation for Publish to \"$JS.API.STREAM.CREATE.OTHER\"'",
            "-ERR 'Permissions Violation for Publish to \"$JS.API.STREAM.PURGE.EVENTS\"'",
        ]
    );
}
