//! Deleting a stack: the garbage collector removes what it owns, in the background or in
//! the foreground; the retained credential Secrets and the database volumes stay.

use kube::api::{DeleteParams, Patch, PatchParams};
use operator::manifests::common::LABEL_RETAIN;
use serde_json::{Value, json};

use super::{CLAIMS, DEPLOYMENTS, SECRETS, STACKS, World};

/// `resource/name` of every stored object owned by `uid`.
fn owned_by(world: &World, uid: &str) -> Vec<String> {
    let mut owned = Vec::new();
    for entry in world.fake.all() {
        let (resource, name) = entry.split_once('/').unwrap();
        let collection = world.collection(resource);
        let obj = world.fake.get(&collection, name).unwrap();
        let refs = obj["metadata"]["ownerReferences"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if refs.iter().any(|r| r["uid"] == uid) {
            owned.push(entry);
        }
    }
    owned
}

/// The retained credential Secrets and the PVCs, which no ownerReference ties to the stack.
fn retained(world: &World) -> Vec<String> {
    let mut kept: Vec<String> = world
        .fake
        .names(SECRETS)
        .into_iter()
        .filter(|n| {
            world.fake.get(SECRETS, n).unwrap()["metadata"]["labels"][LABEL_RETAIN] == "true"
        })
        .map(|n| format!("secrets/{n}"))
        .collect();
    kept.extend(
        world
            .fake
            .names(CLAIMS)
            .into_iter()
            .map(|n| format!("persistentvolumeclaims/{n}")),
    );
    kept
}

impl World {
    /// The collection path of a resource plural in the namespace.
    fn collection(&self, resource: &str) -> String {
        let prefix = match resource {
            "deployments" | "statefulsets" => "/apis/apps/v1",
            "jobs" => "/apis/batch/v1",
            "networkpolicies" => "/apis/networking.k8s.io/v1",
            "poddisruptionbudgets" => "/apis/policy/v1",
            "microservicestacks" => "/apis/natstack.dev/v1alpha1",
            "events" => "/apis/events.k8s.io/v1",
            _ => "/api/v1",
        };
        format!("{prefix}/namespaces/shop/{resource}")
    }
}

/// A running stack with its volumes provisioned; its uid, what it owns and what is kept.
async fn running() -> (World, String, Vec<String>, Vec<String>) {
    let world = World::ready("minimal").await;
    let uid = world.stack().metadata.uid.unwrap();
    let owned = owned_by(&world, &uid);
    let kept = retained(&world);
    assert!(owned.len() > 20, "{owned:?}");
    assert!(
        kept.iter()
            .any(|k| k.starts_with("persistentvolumeclaims/")),
        "{kept:?}"
    );
    assert!(kept.iter().any(|k| k.starts_with("secrets/")), "{kept:?}");
    (world, uid, owned, kept)
}

/// Deletes the stack through the API with `params`' propagation policy.
async fn delete_stack(world: &World, params: DeleteParams) {
    world
        .stacks
        .delete(&world.name, &params)
        .await
        .expect("the delete is admitted");
}

#[tokio::test]
async fn a_background_delete_collects_every_owned_object_and_keeps_credentials_and_volumes() {
    let (world, uid, owned, kept) = running().await;
    delete_stack(&world, DeleteParams::background()).await;
    assert!(
        world.fake.get(STACKS, &world.name).is_none(),
        "gone at once"
    );
    let collected = world.fake.collect_garbage();
    for child in &owned {
        assert!(
            collected.contains(child),
            "{child} not collected: {collected:?}"
        );
    }
    assert!(owned_by(&world, &uid).is_empty());
    assert_eq!(retained(&world), kept, "retained Secrets and PVCs stay");
}

#[tokio::test]
async fn a_foreground_delete_waits_for_blocking_children_and_the_reconciler_writes_nothing() {
    let (world, uid, owned, kept) = running().await;
    // Someone holds one child with a finalizer: the stack must wait for it.
    let held = format!("{}-gateway", world.name);
    let hold = json!({"metadata": {"finalizers": ["example.com/hold"]}});
    world
        .api::<k8s_openapi::api::apps::v1::Deployment>()
        .patch(&held, &PatchParams::default(), &Patch::Merge(&hold))
        .await
        .unwrap();

    delete_stack(&world, DeleteParams::foreground()).await;
    let stack = world.stack();
    assert!(stack.metadata.deletion_timestamp.is_some());
    assert!(
        stack
            .metadata
            .finalizers
            .unwrap()
            .contains(&"foregroundDeletion".to_owned())
    );

    // A reconcile while the collector works must not re-create or touch anything.
    world.fake.clear_log();
    world.reconcile().await;
    let writes: Vec<String> = world
        .fake
        .log()
        .iter()
        .filter(|c| c.method != "GET")
        .map(|c| format!("{} {}", c.method, c.collection))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");

    world.fake.collect_garbage();
    let left = owned_by(&world, &uid);
    assert_eq!(
        left,
        [format!("deployments/{held}")],
        "only the held child is left"
    );
    assert!(
        world.fake.get(STACKS, &world.name).is_some(),
        "the stack waits for a child that blocks its deletion"
    );
    let being_deleted: Value = world.fake.get(DEPLOYMENTS, &held).unwrap();
    assert!(being_deleted["metadata"]["deletionTimestamp"].is_string());

    world
        .api::<k8s_openapi::api::apps::v1::Deployment>()
        .patch(
            &held,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    world.fake.collect_garbage();
    assert!(world.fake.get(STACKS, &world.name).is_none());
    assert!(owned_by(&world, &uid).is_empty(), "{owned:?}");
    assert_eq!(retained(&world), kept, "retained Secrets and PVCs stay");
}

#[tokio::test]
async fn a_recreated_stack_whose_credentials_were_lost_is_degraded_and_regenerates_nothing() {
    let (world, _, _, kept) = running().await;
    delete_stack(&world, DeleteParams::background()).await;
    world.fake.collect_garbage();
    // The PostgreSQL admin's password is lost; its volume, which knows the old one, stays.
    let lost = format!("{}-postgres-admin", world.name);
    assert!(kept.contains(&format!("secrets/{lost}")), "{kept:?}");
    let saved = world.fake.get(SECRETS, &lost).unwrap();
    world
        .api::<k8s_openapi::api::core::v1::Secret>()
        .delete(&lost, &DeleteParams::default())
        .await
        .unwrap();

    // The same stack again.
    let mut stack = crate::common::load("minimal");
    stack.metadata.uid = None;
    stack.metadata.generation = None;
    world
        .stacks
        .create(&kube::api::PostParams::default(), &stack)
        .await
        .unwrap();
    world.fake.clear_log();
    world.reconcile().await;
    let message = world.assert_condition("Degraded", "True", "CredentialsLost");
    assert!(message.contains(&lost), "{message}");
    assert!(
        world.fake.get(SECRETS, &lost).is_none(),
        "no new password for a volume that keeps the old one"
    );
    assert!(
        world.fake.names(DEPLOYMENTS).is_empty(),
        "nothing that depends on it is applied"
    );

    // Restored from a backup: the stack carries on with its data.
    world.fake.insert(SECRETS, saved);
    world.reconcile().await;
    assert_ne!(world.condition("Degraded").1, "CredentialsLost");
    assert!(!world.fake.names(DEPLOYMENTS).is_empty());
}
