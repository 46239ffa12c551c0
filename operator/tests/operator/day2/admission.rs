//! Edits the API server refuses: the volume's storage class after creation, and service
//! names that would collide with the stack's own children.

use kube::api::PostParams;
use operator::crd::MicroserviceStack;

use super::{STATEFUL_SETS, World, changing_writes};
use crate::common;

/// The message of a refused write, which must be a 422 from admission.
fn refusal(result: Result<MicroserviceStack, kube::Error>) -> String {
    match result {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert_eq!(status.reason, "Invalid");
            status.message
        }
        other => panic!("admitted: {other:?}"),
    }
}

#[tokio::test]
async fn setting_or_unsetting_the_storage_class_is_refused_and_the_stack_keeps_reconciling() {
    let world = World::ready("minimal").await;
    let sts = format!("{}-postgres", world.name);
    let template =
        world.fake.get(STATEFUL_SETS, &sts).unwrap()["spec"]["volumeClaimTemplates"].clone();

    let mut classed = world.stack();
    classed.spec.postgres.storage_class_name = Some("fast".into());
    let message = refusal(
        world
            .stacks
            .replace(&world.name, &PostParams::default(), &classed)
            .await,
    );
    assert!(
        message.contains("storageClassName cannot be added or removed"),
        "{message}"
    );
    assert_eq!(world.stack().metadata.generation, Some(1), "nothing stored");

    // The stack goes on reconciling its admitted spec: nothing changes, nothing is refused.
    world.fake.clear_log();
    world.reconcile().await;
    assert!(changing_writes(&world.fake.log()).is_empty());
    world.assert_ready();
    world.assert_not_degraded();
    assert_eq!(
        world.fake.get(STATEFUL_SETS, &sts).unwrap()["spec"]["volumeClaimTemplates"],
        template
    );

    // A stack created with a class keeps it: unsetting is refused too, while an edit of
    // anything else is admitted (the transition rule compares like with like).
    let mut with_class = common::load("minimal");
    with_class.metadata.name = Some("classy".into());
    with_class.metadata.uid = None;
    with_class.spec.postgres.storage_class_name = Some("fast".into());
    let created = world
        .stacks
        .create(&PostParams::default(), &with_class)
        .await
        .expect("a class set at creation is admitted");
    let mut unset = created.clone();
    unset.spec.postgres.storage_class_name = None;
    let message = refusal(
        world
            .stacks
            .replace("classy", &PostParams::default(), &unset)
            .await,
    );
    assert!(message.contains("storageClassName"), "{message}");
    let mut scaled = created;
    scaled.spec.gateway.replicas += 1;
    world
        .stacks
        .replace("classy", &PostParams::default(), &scaled)
        .await
        .expect("other edits are admitted");
}

#[tokio::test]
async fn reserved_service_names_are_refused_at_admission_with_a_clear_message() {
    let world = World::create("minimal").await;
    for reserved in ["nats-headless", "gateway-health", "auth-db-init"] {
        let mut stack = common::load("minimal");
        stack.metadata.name = Some("other".into());
        stack.metadata.uid = None;
        stack.spec.services[0].name = reserved.into();
        let message = refusal(world.stacks.create(&PostParams::default(), &stack).await);
        assert!(
            message.contains("this service name is reserved"),
            "{reserved}: {message}"
        );
        assert!(message.contains("MicroserviceStack.natstack.dev \"other\" is invalid"));

        // Renaming a service of an existing stack to it is refused as well.
        let mut renamed = world.stack();
        renamed.spec.services[0].name = reserved.into();
        let message = refusal(
            world
                .stacks
                .replace(&world.name, &PostParams::default(), &renamed)
                .await,
        );
        assert!(message.contains("reserved"), "{reserved}: {message}");
    }
    assert!(world.fake.get(super::STACKS, "other").is_none());
}
