//! Secrets the stack references (`existingSecret`, `adminPasswordSecret`) deleted or broken
//! after the stack was running, then put right: the stack says why it waits, looks again
//! soon (they are not watched), and recovers without an edit of the stack.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::controller::Action;
use operator::controller::SECRET_RETRY_AFTER;
use operator::manifests;

use super::{World, user_secret};

/// The `external-databases` stack, its referenced Secrets in place, rolled out: Ready.
async fn running() -> (World, Vec<String>) {
    let world = World::create("external-databases").await;
    let referenced = manifests::secrets::referenced(&world.stack().spec);
    let secrets = world.api::<Secret>();
    for name in &referenced {
        let secret = serde_json::from_value(user_secret(name)).unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }
    world.reconcile().await;
    world.fake.roll_out_all();
    world.reconcile().await;
    world.assert_ready();
    (world, referenced)
}

#[tokio::test]
async fn a_deleted_referenced_secret_is_reported_retried_and_recovered_without_an_edit() {
    let (world, referenced) = running().await;
    let secrets = world.api::<Secret>();
    let generation = world.stack().metadata.generation;
    for name in &referenced {
        secrets
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
        assert_eq!(
            world.reconcile().await,
            Action::requeue(SECRET_RETRY_AFTER),
            "looked at again soon: {name} is not watched"
        );
        let message = world.assert_condition("Degraded", "True", "MissingSecret");
        assert!(message.contains(name.as_str()), "{message}");

        let secret = serde_json::from_value(user_secret(name)).unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
        assert_eq!(world.reconcile().await, Action::requeue(super::RESYNC));
        assert_eq!(world.condition("Degraded").0, "False", "{name}");
        assert_eq!(world.condition("Ready").0, "True", "{name}");
    }
    assert_eq!(world.stack().metadata.generation, generation, "no edit");
}

#[tokio::test]
async fn a_broken_secret_key_is_degraded_naming_the_key_until_fixed() {
    let (world, referenced) = running().await;
    let secrets = world.api::<Secret>();
    let name = &referenced[0];
    let mut broken = secrets.get(name).await.unwrap();
    broken.data.as_mut().unwrap().remove("host");
    secrets
        .replace(name, &PostParams::default(), &broken)
        .await
        .unwrap();
    assert_eq!(world.reconcile().await, Action::requeue(SECRET_RETRY_AFTER));
    let message = world.assert_condition("Degraded", "True", "MissingSecret");
    assert!(
        message.contains(name.as_str()) && message.contains("host"),
        "the message names the Secret and its key: {message}"
    );

    // Fixed by the user (a stale copy would be refused: the write names the version it read).
    let mut fixed = secrets.get(name).await.unwrap();
    fixed.data.as_mut().unwrap().insert(
        "host".into(),
        k8s_openapi::ByteString(b"db.example.com".to_vec()),
    );
    let stale = broken;
    assert!(
        secrets
            .replace(name, &PostParams::default(), &stale)
            .await
            .is_err(),
        "a write from a stale read conflicts"
    );
    secrets
        .replace(name, &PostParams::default(), &fixed)
        .await
        .unwrap();
    assert_eq!(world.reconcile().await, Action::requeue(super::RESYNC));
    world.assert_not_degraded();
    world.assert_ready();
}
