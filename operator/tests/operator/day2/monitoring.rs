//! Turning `spec.monitoring` on and off: the monitoring objects are applied and pruned like
//! every other child, and a cluster without the prometheus-operator's CRDs gets a Warning
//! Event instead of a failed reconcile.

use super::World;
use crate::common::paths::{CONFIG_MAPS, MONITORING};

fn service_monitors() -> String {
    format!("{MONITORING}/servicemonitors")
}

fn dashboards(world: &World) -> Vec<String> {
    world
        .fake
        .names(CONFIG_MAPS)
        .into_iter()
        .filter(|n| n.contains("-dashboard-"))
        .collect()
}

#[tokio::test]
async fn enabling_then_disabling_monitoring_applies_and_prunes_its_objects() {
    let world = World::ready("minimal").await;
    world.fake.prometheus_operator(true);
    world.edit(|s| s.spec.monitoring.enabled = true).await;
    world.reconcile().await;
    let mut monitors = world.fake.names(&service_monitors());
    monitors.sort();
    assert_eq!(
        monitors,
        [
            "demo-auth",
            "demo-customers",
            "demo-gateway-health",
            "demo-products"
        ]
    );
    assert_eq!(
        world.fake.names(&format!("{MONITORING}/podmonitors")),
        ["demo-nats"]
    );
    assert_eq!(
        world.fake.names(&format!("{MONITORING}/prometheusrules")),
        ["demo-alerts"]
    );
    assert_eq!(dashboards(&world).len(), 5);
    let nats = world
        .fake
        .get("/apis/apps/v1/namespaces/shop/statefulsets", "demo-nats")
        .unwrap();
    let containers = nats["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(containers, 3, "server, reloader and exporter");

    world.edit(|s| s.spec.monitoring.enabled = false).await;
    world.reconcile().await;
    assert!(world.fake.names(&service_monitors()).is_empty());
    assert!(
        world
            .fake
            .names(&format!("{MONITORING}/podmonitors"))
            .is_empty()
    );
    assert!(
        world
            .fake
            .names(&format!("{MONITORING}/prometheusrules"))
            .is_empty()
    );
    assert!(dashboards(&world).is_empty());
}

#[tokio::test]
async fn without_the_prometheus_operator_monitoring_is_skipped_with_a_warning() {
    let world = World::ready("minimal").await;
    world.fake.clear_log();
    world.edit(|s| s.spec.monitoring.enabled = true).await;
    world.reconcile().await;
    world.assert_not_degraded();
    let log = world.fake.log();
    assert!(
        log.iter()
            .all(|c| !c.collection.starts_with(MONITORING) || c.method == "GET" && c.code == 404),
        "no write to an API the cluster does not serve"
    );
    let warned = log.iter().filter(|c| c.resource() == "events").any(|c| {
        c.body
            .as_ref()
            .is_some_and(|b| b["type"] == "Warning" && b["reason"] == "MonitoringUnavailable")
    });
    assert!(warned, "a MonitoringUnavailable event");
    assert_eq!(dashboards(&world).len(), 5, "the dashboards need no CRD");
}
