//! Discovery at run time: new services, conflicts.

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
async fn conflicts_are_resolved_by_version_and_reported() {
    let nats = runtime::test_support::NatsServer::start().await.unwrap();
    let client = nats.client().await;
    // "gadgets" 2.0.0 claims GET /widgets too; it wins over widgets 1.0.0.
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
    gateway.wait_routed("gadgets.list").await;
    assert_eq!(gateway.http.get("/widgets").await.json(), "gadgets");
    let view = gateway.health.get("/services").await.json();
    let conflict = &view["conflicts"][0];
    assert_eq!(conflict["path"], "/widgets");
    assert_eq!(conflict["winner"], "gadgets@2.0.0 (gadgets.list)");
    assert_eq!(
        conflict["losers"][0],
        format!("widgets@1.0.0 ({})", ListWidgets::subject())
    );
    let metrics = String::from_utf8(gateway.health.get("/metrics").await.body.to_vec()).unwrap();
    assert!(
        metrics.contains("natstack_gateway_route_conflicts 1"),
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
