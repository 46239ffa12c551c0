//! The data volumes on day 2: an image edit that would change a database's major version under
//! its data is refused (also after the StatefulSet was deleted and re-created), a minor one is
//! applied, and growing `storage` resizes the volume claims where the StorageClass allows it.

use serde_json::json;

use super::{CLAIMS, STATEFUL_SETS, World};
use crate::common;
use crate::fake::STORAGE_CLASSES;
use operator::reconcile::volumes::DATA_IMAGE_ANNOTATION;

fn image(world: &World, set: &str) -> String {
    world.fake.get(STATEFUL_SETS, set).unwrap()["spec"]["template"]["spec"]["containers"][0]
        ["image"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_major_version_change_under_existing_data_is_refused() {
    let world = World::ready("minimal").await;
    let set = format!("{}-postgres", world.name);
    let claim = format!("data-{set}-0");
    let running = image(&world, &set);
    assert!(running.starts_with("postgres:17"), "{running}");
    // The claim remembers which image wrote the data.
    world.reconcile().await;
    assert_eq!(
        world.fake.get(CLAIMS, &claim).unwrap()["metadata"]["annotations"][DATA_IMAGE_ANNOTATION],
        running.as_str()
    );

    world
        .edit(|s| s.spec.postgres.image = Some("postgres:18-alpine".into()))
        .await;
    world.reconcile().await;
    let message = world.assert_condition("Degraded", "True", "MajorVersionChange");
    common::assert_mentions(&message, &["postgres:18-alpine", "major version 17"]);
    assert_eq!(image(&world, &set), running, "the server keeps its image");

    // Deleting the StatefulSet (keeping the volume) does not open the door: the claim
    // remembers the data's version.
    world.fake.delete(STATEFUL_SETS, &set);
    world.reconcile().await;
    assert_eq!(world.condition("Degraded").1, "MajorVersionChange");
    assert_eq!(image(&world, &set), running);

    // A minor update of the same major version goes through.
    world
        .edit(|s| s.spec.postgres.image = Some("postgres:17.6-alpine".into()))
        .await;
    world.reconcile().await;
    assert_eq!(image(&world, &set), "postgres:17.6-alpine");
    world.assert_not_degraded();
}

#[tokio::test]
async fn growing_storage_resizes_the_claims_where_the_class_allows() {
    let world = World::ready("minimal").await;
    let set = format!("{}-postgres", world.name);
    let claim = format!("data-{set}-0");
    world.fake.insert(
        STORAGE_CLASSES,
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
               "metadata": {"name": "standard", "annotations":
                   {"storageclass.kubernetes.io/is-default-class": "true"}},
               "provisioner": "example.com/disk", "allowVolumeExpansion": false}),
    );
    world.edit(|s| s.spec.postgres.storage = "5Gi".into()).await;
    world.reconcile().await;
    let message = world.assert_condition("Degraded", "True", "StorageNotExpandable");
    common::assert_mentions(&message, &[&claim, "allowVolumeExpansion"]);
    let requested = |world: &World| {
        world.fake.get(CLAIMS, &claim).unwrap()["spec"]["resources"]["requests"]["storage"].clone()
    };
    assert_eq!(requested(&world), "1Gi");

    // The class now allows expansion: the claim grows, the StatefulSet keeps its (immutable)
    // claim template, and nothing is refused.
    let mut class = world.fake.get(STORAGE_CLASSES, "standard").unwrap();
    class["allowVolumeExpansion"] = json!(true);
    world.fake.insert(STORAGE_CLASSES, class);
    world.reconcile().await;
    assert_eq!(requested(&world), "5Gi");
    assert_eq!(
        world.fake.get(STATEFUL_SETS, &set).unwrap()["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]
            ["requests"]["storage"],
        "1Gi"
    );
    world.assert_not_degraded();
    world.assert_ready();
}

#[tokio::test]
async fn a_claim_template_added_by_an_upgrade_recreates_the_stateful_set_keeping_its_pods() {
    let world = World::ready("minimal").await;
    let set = format!("{}-nats", world.name);
    // As an operator before the JetStream volume left it: no claim templates.
    let mut old = world.fake.get(STATEFUL_SETS, &set).unwrap();
    assert!(old["spec"]["volumeClaimTemplates"].is_array());
    old["spec"]
        .as_object_mut()
        .unwrap()
        .remove("volumeClaimTemplates");
    world.fake.delete(STATEFUL_SETS, &set);
    world.fake.insert(STATEFUL_SETS, old);
    world.fake.roll_out(STATEFUL_SETS, &set);

    world.reconcile().await;
    // Deleted with its pods orphaned (not an ImmutableField refusal), and not ready meanwhile.
    let deleting = world.fake.get(STATEFUL_SETS, &set).unwrap();
    assert!(deleting["metadata"]["deletionTimestamp"].is_string());
    assert!(
        deleting["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == "orphan")),
        "{deleting}"
    );
    world.assert_not_degraded();
    let (ready, _, message) = world.condition("Ready");
    assert_eq!(ready, "False");
    assert!(message.contains("nats"), "{message}");

    world.fake.collect_garbage();
    assert!(world.fake.get(STATEFUL_SETS, &set).is_none());
    world.reconcile().await;
    let created = world.fake.get(STATEFUL_SETS, &set).unwrap();
    assert_eq!(
        created["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        "data"
    );
    world.fake.roll_out(STATEFUL_SETS, &set);
    world.reconcile().await;
    world.assert_ready();
}
