//! Discovery at run time: new services, refused claims.

use contract::Operation;
use runtime::test_support::wait_until;

use super::support::{self, Gateway, ListWidgets, Running, WAIT, Widgets};

#[tokio::test]
async fn a_service_registered_later_becomes_routable() {
    let nats = runtime::test_support::NatsServer::start().await.unwrap();
    let client = nats.client().await;
    let gateway = Gateway::start(support::config(&nats.url())).await;
    assert_eq!(gateway.http.get("/widgets").await.status, 404);
    let widgets = support::start_widgets(&client, Widgets::default()).await;
    let http = gateway.http.clone();
    wait_until("the new service is served", WAIT, || {
        let http = http.clone();
        async move { http.get("/widgets").await.status == 200 }
    })
    .await;
    gateway.stop().await;
    widgets.stop().await;
}

#[tokio::test]
async fn a_claim_of_another_services_path_is_refused_whatever_its_version() {
    let nats = runtime::test_support::NatsServer::start().await.unwrap();
    let client = nats.client().await;
    // "gadgets" 2.0.0 claims widgets' GET /widgets, publicly: widgets 1.0.0 keeps it.
    let gadgets =
        runtime::ServiceBuilder::new("gadgets", "2.0.0", "conflicting", Widgets::default())
            .endpoint::<GadgetList, _>(
                |_, _: runtime::RequestContext, _: contract::RequestOf<GadgetList>| async move {
                    Ok("gadgets".to_owned())
                },
            )
            .start(&client)
            .await
            .unwrap();
    let gadgets = Running::spawn(gadgets);
    let widgets = support::start_widgets(&client, Widgets::default()).await;
    let gateway = Gateway::start(support::config(&nats.url())).await;
    gateway.wait_routed("widgets.get").await;
    let health = gateway.health.clone();
    wait_until("the gadgets claim is reported", WAIT, || {
        let health = health.clone();
        async move {
            let view = health.get("/services").await.json();
            view["refused_claims"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        }
    })
    .await;
    let reply = gateway.http.get("/widgets").await;
    assert_eq!(reply.status, 200);
    assert_ne!(reply.json(), "gadgets", "widgets still serves its own path");
    let view = gateway.health.get("/services").await.json();
    assert_eq!(
        view["refused_claims"],
        serde_json::json!([{
            "service": "gadgets",
            "subject": "gadgets.list",
            "method": "GET",
            "path": "/widgets",
            "reason": "/widgets belongs to widgets",
        }])
    );
    assert_eq!(view["conflicts"], serde_json::json!([]));
    let routed: Vec<&str> = view["routes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "/widgets" && r["method"] == "GET")
        .map(|r| r["subject"].as_str().unwrap())
        .collect();
    assert_eq!(routed, [ListWidgets::subject()]);
    let metrics = String::from_utf8(gateway.health.get("/metrics").await.body.to_vec()).unwrap();
    assert!(
        metrics.contains("natstack_gateway_route_claims_refused 1"),
        "{metrics}"
    );
    gateway.stop().await;
    widgets.stop().await;
    gadgets.stop().await;
}

contract::operation! {
    /// A competing list
    pub GadgetList: "gadgets"."list", GET "/widgets", auth Public, status 200,
        params contract::Empty, query contract::Query, body (), response String
}

#[tokio::test]
async fn the_first_table_is_completed_at_once_not_one_interval_later() {
    let nats = runtime::test_support::NatsServer::start().await.unwrap();
    let client = nats.client().await;
    let widgets = support::start_widgets(&client, Widgets::default()).await;
    // Polls a minute apart, none triggered by requests: a second snapshot within WAIT can only
    // be the full poll that follows the first, short one.
    let mut config = support::config(&nats.url());
    config.discovery.interval = std::time::Duration::from_secs(60);
    config.discovery.trigger_throttle = std::time::Duration::from_secs(60);
    let gateway = Gateway::start(config).await;
    let health = gateway.health.clone();
    wait_until("a second snapshot, routing widgets", WAIT, || {
        let health = health.clone();
        async move {
            let view = health.get("/services").await.json();
            view["generation"].as_u64().is_some_and(|g| g >= 1)
                && view["routes"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|r| r["subject"] == ListWidgets::subject()))
        }
    })
    .await;
    assert_eq!(gateway.http.get("/widgets").await.status, 200);
    gateway.stop().await;
    widgets.stop().await;
}
