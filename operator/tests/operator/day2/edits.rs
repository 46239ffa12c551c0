//! Creating a stack, and editing it: Ready follows the rollouts of the current generation.

use super::{DEPLOYMENTS, STATEFUL_SETS, World};

#[tokio::test]
async fn a_new_stack_is_ready_once_its_workloads_are_rolled_out() {
    let world = World::create("minimal").await;
    world.reconcile().await;
    world.assert_condition("Ready", "False", "ComponentsNotReady");
    assert_eq!(
        world.observed_generation(),
        None,
        "applied, not yet running"
    );

    // Every workload but one available: still not Ready, and the message names the one left.
    let waiting = format!("{}-postgres", world.name);
    for name in world.fake.names(DEPLOYMENTS) {
        world.fake.roll_out(DEPLOYMENTS, &name);
    }
    for name in world.fake.names(STATEFUL_SETS) {
        if name != waiting {
            world.fake.roll_out(STATEFUL_SETS, &name);
        }
    }
    world.reconcile().await;
    let (ready, _, message) = world.condition("Ready");
    assert_eq!(ready, "False");
    assert!(message.contains("postgres"), "{message}");

    world.fake.roll_out(STATEFUL_SETS, &waiting);
    world.reconcile().await;
    world.assert_condition("Ready", "True", "AllComponentsReady");
    let status = world.stack().status.unwrap();
    assert_eq!(status.ready_components.as_deref(), Some("7/7"));
    assert_eq!(status.observed_generation, Some(1));
}

#[tokio::test]
async fn an_image_edit_is_ready_only_once_the_new_generation_is_rolled_out() {
    let world = World::ready("minimal").await;
    let stack = world.stack();
    let service = stack.spec.services[0].name.clone();
    let deployment = format!("{}-{service}", world.name);
    let before = world.fake.get(DEPLOYMENTS, &deployment).unwrap();
    assert_eq!(before["metadata"]["generation"], 1);

    world
        .edit(|s| s.spec.services[0].image = Some("registry.example/shop/next:2.0".into()))
        .await;
    assert_eq!(world.stack().metadata.generation, Some(2), "a spec edit");
    world.reconcile().await;

    // The new template is applied; its Deployment has not rolled it out yet.
    let after = world.fake.get(DEPLOYMENTS, &deployment).unwrap();
    assert_eq!(after["metadata"]["generation"], 2);
    assert_eq!(
        after["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example/shop/next:2.0"
    );
    assert_eq!(after["status"]["observedGeneration"], 1, "the old rollout");
    let message = world.assert_condition("Ready", "False", "ComponentsNotReady");
    assert!(message.contains(&service), "{message}");
    let component = world
        .stack()
        .status
        .unwrap()
        .components
        .into_iter()
        .find(|c| c.name == service)
        .unwrap();
    assert!(!component.ready);
    assert_eq!(
        component.message.as_deref(),
        Some("rollout not yet observed")
    );
    // Nothing claims generation 2 is ready: observedGeneration still names generation 1, which
    // kstatus reads as in progress, and Ready (for generation 2) is False, which `kubectl
    // wait` reads the same way.
    assert_eq!(world.observed_generation(), Some(1));
    let stack = world.stack();
    let ready_condition = stack
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready_condition.observed_generation, Some(2));
    assert_eq!(ready_condition.status, "False");

    world.fake.roll_out(DEPLOYMENTS, &deployment);
    world.reconcile().await;
    world.assert_ready();
    assert_eq!(world.observed_generation(), Some(2));
}

#[tokio::test]
async fn an_image_that_cannot_be_pulled_is_degraded_rollout_stuck_until_fixed() {
    let world = World::ready("minimal").await;
    let service = world.stack().spec.services[0].name.clone();
    let deployment = format!("{}-{service}", world.name);
    world
        .edit(|s| s.spec.services[0].image = Some("registry.example/shop/missing:404".into()))
        .await;
    world.reconcile().await;
    // Its new pods cannot pull the image; the Deployment passes its progress deadline.
    world
        .fake
        .stall(DEPLOYMENTS, &deployment, "ImagePullBackOff");
    world.reconcile().await;
    let message = world.assert_condition("Degraded", "True", "RolloutStuck");
    assert!(message.starts_with(&format!("{service}:")), "{message}");
    assert!(message.contains("ProgressDeadlineExceeded"), "{message}");
    assert_ne!(world.condition("Ready").0, "True");

    // Fixed: the next rollout completes and the stack recovers.
    world.edit(|s| s.spec.services[0].image = None).await;
    world.reconcile().await;
    world.fake.roll_out_all();
    world.reconcile().await;
    world.assert_not_degraded();
    world.assert_ready();
}
