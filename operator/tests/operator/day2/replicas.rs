//! `spec.replicas` and server-side apply ownership: changed by another field manager while the
//! operator still applies it, the operator's next apply takes it back; under an autoscaler,
//! the operator hands it over without a scale-down and leaves the autoscaler's count alone.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use operator::crd::Autoscaling;
use operator::manifests::common::FIELD_MANAGER;
use serde_json::json;

use super::World;
use crate::common::paths::{DEPLOYMENTS, HPAS};

/// Sets `deployment`'s replicas through its scale subresource as field manager `manager`
/// (`kubectl scale`, an autoscaler).
async fn scale(world: &World, deployment: &str, manager: &str, replicas: i32) {
    let params = PatchParams {
        field_manager: Some(manager.to_owned()),
        ..PatchParams::default()
    };
    let scale = json!({"spec": {"replicas": replicas}});
    world
        .api::<Deployment>()
        .patch_scale(deployment, &params, &Patch::Merge(&scale))
        .await
        .expect("the scale is patched");
}

#[tokio::test]
async fn replicas_scaled_by_another_manager_are_restored_by_the_next_apply() {
    let world = World::ready("minimal").await;
    let service = world.stack().spec.services[0].clone();
    let deployment = format!("{}-{}", world.name, service.name);
    assert_eq!(
        world
            .fake
            .managers(DEPLOYMENTS, &deployment, "/spec/replicas"),
        [FIELD_MANAGER]
    );

    // `kubectl scale` (an Update of the scale subresource by another manager).
    scale(&world, &deployment, "kubectl", service.replicas + 4).await;
    let scaled = world.fake.get(DEPLOYMENTS, &deployment).unwrap();
    assert_eq!(scaled["spec"]["replicas"], service.replicas + 4);
    assert_eq!(scaled["metadata"]["generation"], 2, "replicas are spec");
    assert_eq!(
        world
            .fake
            .managers(DEPLOYMENTS, &deployment, "/spec/replicas"),
        ["kubectl"]
    );

    world.reconcile().await;
    let restored = world.fake.get(DEPLOYMENTS, &deployment).unwrap();
    assert_eq!(
        restored["spec"]["replicas"], service.replicas,
        "the stack's value"
    );
    assert_eq!(
        world
            .fake
            .managers(DEPLOYMENTS, &deployment, "/spec/replicas"),
        [FIELD_MANAGER],
        "the operator owns replicas again"
    );
}

#[tokio::test]
async fn an_autoscaler_keeps_the_replicas_it_sets_and_gives_them_back_when_removed() {
    let world = World::ready("minimal").await;
    world.edit(|s| s.spec.services[0].replicas = 3).await;
    world.reconcile().await;
    let service = world.stack().spec.services[0].name.clone();
    let deployment = format!("{}-{service}", world.name);
    let replicas =
        |w: &World| w.fake.get(DEPLOYMENTS, &deployment).unwrap()["spec"]["replicas"].clone();
    assert_eq!(replicas(&world), 3);

    // Autoscaling turned on: an HPA, and the running count is kept (a plain release of the
    // field by its only owner would reset it to the default, 1).
    world
        .edit(|s| {
            s.spec.services[0].autoscaling = Some(Autoscaling {
                min_replicas: 2,
                max_replicas: 6,
                target_cpu_utilization_percentage: 80,
            });
        })
        .await;
    world.reconcile().await;
    assert!(world.fake.get(HPAS, &deployment).is_some(), "the HPA");
    assert_eq!(replicas(&world), 3, "no scale-down on the switch");
    assert!(
        !world
            .fake
            .managers(DEPLOYMENTS, &deployment, "/spec/replicas")
            .contains(&FIELD_MANAGER.to_owned()),
        "the operator's apply let go of replicas"
    );

    // The autoscaler scales (an Update of the scale subresource); the operator leaves it.
    scale(&world, &deployment, "horizontal-pod-autoscaler", 5).await;
    for _ in 0..2 {
        world.reconcile().await;
        assert_eq!(replicas(&world), 5, "the autoscaler's count stays");
    }

    // Back to a fixed count: the operator takes replicas back and the HPA goes.
    world
        .edit(|s| {
            s.spec.services[0].autoscaling = None;
            s.spec.services[0].replicas = 2;
        })
        .await;
    world.reconcile().await;
    assert_eq!(replicas(&world), 2);
    assert_eq!(
        world
            .fake
            .managers(DEPLOYMENTS, &deployment, "/spec/replicas"),
        [FIELD_MANAGER]
    );
    assert!(
        world.fake.get(HPAS, &deployment).is_none(),
        "the HPA pruned"
    );
}
