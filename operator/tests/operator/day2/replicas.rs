//! `spec.replicas` changed by another field manager while the operator still applies it:
//! the operator's next apply takes it back (server-side apply ownership).

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use operator::manifests::common::FIELD_MANAGER;
use serde_json::json;

use super::{DEPLOYMENTS, World};

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
    let scale = json!({"spec": {"replicas": service.replicas + 4}});
    world
        .api::<Deployment>()
        .patch_scale(
            &deployment,
            &PatchParams {
                field_manager: Some("kubectl".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(&scale),
        )
        .await
        .unwrap();
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
