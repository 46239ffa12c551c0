//! The reconcile pipeline on day 2, against the fake API server: a rejected child does not stop
//! the others (`ImmutableField`, `ApplyFailed`), workloads that cannot start are reported
//! (`RolloutStuck`), lost credentials are not regenerated (`CredentialsLost`), and a changed
//! message is a new Event.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams};
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use operator::controller::{Context, NOT_READY_RETRY_AFTER, SECRET_RETRY_AFTER, reconcile};
use operator::crd::MicroserviceStack;
use operator::metrics::Metrics;
use serde_json::{Value, json};

use crate::common;
use crate::common::paths::{CLAIMS, DEPLOYMENTS, PODS, RESYNC, SECRETS, STACKS};
use crate::fake::Fake;
use crate::fake::reject::Rejections;

fn context(fake: &Fake, client: kube::Client, fixture: &str) -> (Arc<Context>, MicroserviceStack) {
    let stack = common::load(fixture);
    fake.insert(STACKS, serde_json::to_value(&stack).unwrap());
    let ctx = Arc::new(Context::new(client, Arc::new(Metrics::default()), RESYNC));
    (ctx, stack)
}

async fn run(ctx: &Arc<Context>, stack: &MicroserviceStack) -> Action {
    reconcile(Arc::new(DeserializeGuard(Ok(stack.clone()))), ctx.clone())
        .await
        .expect("no transient failure")
}

fn stored(fake: &Fake, name: &str) -> MicroserviceStack {
    serde_json::from_value(fake.get(STACKS, name).expect("stack stored")).expect("stack")
}

/// Edits the stored stack (its generation bumped, as the API server does) and returns it.
fn edit(fake: &Fake, change: impl FnOnce(&mut MicroserviceStack)) -> MicroserviceStack {
    let mut stack = stored(fake, "demo");
    change(&mut stack);
    stack.metadata.generation = stack.metadata.generation.map(|g| g + 1);
    fake.insert(STACKS, serde_json::to_value(&stack).unwrap());
    stack
}

/// The stack's `Degraded` condition: status, reason, message.
fn degraded(stack: &MicroserviceStack) -> (String, String, String) {
    common::condition(stack, "Degraded")
}

/// Asserts that the stored `demo` stack is Degraded for `reason`; returns the condition's message.
#[track_caller]
fn assert_degraded(fake: &Fake, reason: &str) -> String {
    common::assert_condition(&stored(fake, "demo"), "Degraded", "True", reason)
}

/// Events created (POST) so far, as (type, reason, note).
fn events(fake: &Fake) -> Vec<(String, String, String)> {
    fake.log()
        .iter()
        .filter(|c| c.resource() == "events" && c.method == "POST")
        .filter_map(|c| c.body.clone())
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (text("type"), text("reason"), text("note"))
        })
        .collect()
}

/// Asserts that a Warning Event for `reason` with a note mentioning `part` (`""`: any note) was
/// created.
#[track_caller]
fn assert_warned(fake: &Fake, reason: &str, part: &str) {
    let events = events(fake);
    assert!(
        events
            .iter()
            .any(|(t, r, n)| t == "Warning" && r == reason && n.contains(part)),
        "no Warning {reason} mentioning {part:?}: {events:?}"
    );
}

fn image(fake: &Fake, deployment: &str) -> Value {
    fake.get(DEPLOYMENTS, deployment).expect("deployment")["spec"]["template"]["spec"]["containers"]
        [0]["image"]
        .clone()
}

#[tokio::test]
async fn an_immutable_field_is_reported_while_every_other_stage_is_still_applied() {
    let (fake, client) = Fake::start();
    let (ctx, stack) = context(&fake, client, "minimal");
    run(&ctx, &stack).await;
    fake.roll_out_all();
    run(&ctx, &stored(&fake, "demo")).await;
    assert_eq!(
        stored(&fake, "demo").status.unwrap().observed_generation,
        Some(1)
    );

    // The edit the CRD cannot refuse on an older API server: the database's storage class
    // (immutable in the StatefulSet, which the fake API server refuses as the real one does),
    // together with a service upgrade.
    let stack = edit(&fake, |s| {
        s.spec.postgres.storage_class_name = Some("fast".into());
        s.spec.services[1].image = Some("shop/customers:2".into());
    });
    fake.clear_log();
    assert_eq!(
        run(&ctx, &stack).await,
        Action::requeue(NOT_READY_RETRY_AFTER),
        "a rejection is no transient failure: no backoff, but looked at again soon"
    );
    assert_eq!(
        image(&fake, "demo-customers"),
        "shop/customers:2",
        "later stages applied"
    );
    assert!(
        fake.log()
            .iter()
            .any(|c| c.method == "PATCH" && c.name.as_deref() == Some("demo-gateway")),
        "the gateway stage ran"
    );
    common::assert_mentions(
        &assert_degraded(&fake, "ImmutableField"),
        &[
            "StatefulSet demo-postgres",
            "spec",
            "--cascade=orphan",
            "new stack",
        ],
    );
    let after = stored(&fake, "demo");
    let status = after.status.as_ref().unwrap();
    assert_eq!(
        status.observed_generation,
        Some(1),
        "generation 2 is not wholly applied"
    );
    assert_warned(&fake, "ImmutableField", "demo-postgres");

    // Undone: the stack recovers, the upgrade kept.
    let stack = edit(&fake, |s| s.spec.postgres.storage_class_name = None);
    run(&ctx, &stack).await;
    fake.roll_out_all();
    run(&ctx, &stored(&fake, "demo")).await;
    assert_eq!(degraded(&stored(&fake, "demo")).0, "False");
    assert_eq!(
        stored(&fake, "demo").status.unwrap().observed_generation,
        Some(3)
    );
    assert_eq!(image(&fake, "demo-customers"), "shop/customers:2");
}

#[tokio::test]
async fn a_rejected_configuration_stops_the_stages_that_depend_on_it() {
    let (fake, client, rejections) = Rejections::start();
    let (ctx, stack) = context(&fake, client, "minimal");
    run(&ctx, &stack).await;
    let config_map = common::build(&stack).stages[0]
        .objects
        .iter()
        .find(|c| c.kind() == "ConfigMap")
        .expect("the config stage has a ConfigMap")
        .name()
        .to_owned();
    rejections.invalid("configmaps", &config_map, "data", "too long");
    let stack = edit(&fake, |s| {
        s.spec.services[1].image = Some("shop/customers:2".into());
    });
    fake.clear_log();
    run(&ctx, &stack).await;
    common::assert_mentions(
        &assert_degraded(&fake, "ApplyFailed"),
        &[
            &format!("ConfigMap {config_map} was rejected"),
            "data, services, gateway",
        ],
    );
    let workload_writes: Vec<String> = fake
        .log()
        .iter()
        .filter(|c| c.method == "PATCH" && matches!(c.resource(), "deployments" | "statefulsets"))
        .filter_map(|c| c.name.clone())
        .collect();
    assert!(workload_writes.is_empty(), "{workload_writes:?}");
    assert_ne!(image(&fake, "demo-customers"), "shop/customers:2");
}

fn pod(component: &str, container: &str, reason: &str, message: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": format!("demo-{component}-5d8f7-x2x9q"), "namespace": "shop",
                        "labels": {"app.kubernetes.io/name": component,
                                   "app.kubernetes.io/instance": "demo",
                                   "app.kubernetes.io/managed-by": "natstack-operator"}},
           "status": {"phase": "Pending", "containerStatuses": [{
               "name": container, "image": "x", "imageID": "", "ready": false, "restartCount": 3,
               "state": {"waiting": {"reason": reason, "message": message}}}]}})
}

#[tokio::test]
async fn a_workload_that_cannot_start_is_degraded_rollout_stuck_naming_it() {
    let (fake, client) = Fake::start();
    let (ctx, stack) = context(&fake, client, "minimal");
    run(&ctx, &stack).await;
    let pull = "Back-off pulling image \"shop/customers:404\"";
    fake.insert(
        PODS,
        pod("customers", "customers", "ImagePullBackOff", pull),
    );
    assert_eq!(
        run(&ctx, &stored(&fake, "demo")).await,
        Action::requeue(NOT_READY_RETRY_AFTER),
        "a crash loop changes no watched object: looked at again soon"
    );
    assert_eq!(
        assert_degraded(&fake, "RolloutStuck"),
        format!("customers: container customers ImagePullBackOff: {pull}")
    );

    // A crash loop elsewhere, and a Deployment past its progress deadline.
    fake.insert(
        PODS,
        pod(
            "auth",
            "auth",
            "CrashLoopBackOff",
            "back-off 5m0s restarting",
        ),
    );
    let mut gateway = fake.get(DEPLOYMENTS, "demo-gateway").unwrap();
    gateway["status"] = json!({"conditions": [{"type": "Progressing", "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": "ReplicaSet \"demo-gateway-7c9\" has timed out progressing."}]});
    fake.insert(DEPLOYMENTS, gateway);
    fake.clear_log();
    run(&ctx, &stored(&fake, "demo")).await;
    common::assert_mentions(
        &assert_degraded(&fake, "RolloutStuck"),
        &[
            "auth: container auth CrashLoopBackOff",
            "customers: container customers ImagePullBackOff",
            "gateway: deployment demo-gateway ProgressDeadlineExceeded",
        ],
    );
    // The new message is a new Event.
    assert_warned(&fake, "RolloutStuck", "CrashLoopBackOff");
}

async fn delete_secret(ctx: &Context, name: &str) {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), "shop");
    api.delete(name, &DeleteParams::default())
        .await
        .expect("deleted");
}

fn claim(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": name, "namespace": "shop"},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
}

#[tokio::test]
async fn lost_credentials_with_their_volume_kept_are_not_regenerated() {
    let (fake, client) = Fake::start();
    let (ctx, stack) = context(&fake, client, "minimal");
    run(&ctx, &stack).await;
    fake.insert(CLAIMS, claim("data-demo-postgres-0"));
    let admin = fake.get(SECRETS, "demo-postgres-admin").unwrap();
    let customers = fake.get(SECRETS, "demo-customers-db").unwrap();
    delete_secret(&ctx, "demo-postgres-admin").await;
    delete_secret(&ctx, "demo-customers-db").await;
    fake.clear_log();

    assert_eq!(
        run(&ctx, &stored(&fake, "demo")).await,
        Action::requeue(SECRET_RETRY_AFTER),
        "waits for the Secret like for a missing referenced one"
    );
    let writes: Vec<String> = fake
        .log()
        .iter()
        .filter(|c| c.method != "GET" && c.subresource.is_none() && c.resource() != "events")
        .map(|c| format!("{} {}/{:?}", c.method, c.resource(), c.name))
        .collect();
    assert!(
        writes.is_empty(),
        "nothing generated or applied: {writes:?}"
    );
    common::assert_mentions(
        &assert_degraded(&fake, "CredentialsLost"),
        &[
            "demo-postgres-admin",
            "demo-customers-db",
            "data-demo-postgres-0",
            "restore the Secret",
            "delete the PersistentVolumeClaim",
        ],
    );
    assert_warned(&fake, "CredentialsLost", "");

    // Restored from a backup: used as it is.
    fake.insert(SECRETS, admin.clone());
    fake.insert(SECRETS, customers);
    run(&ctx, &stored(&fake, "demo")).await;
    assert_eq!(degraded(&stored(&fake, "demo")).0, "False");
    assert_eq!(
        fake.get(SECRETS, "demo-postgres-admin").unwrap()["data"],
        admin["data"]
    );
}

#[tokio::test]
async fn lost_credentials_without_their_volume_start_afresh() {
    let (fake, client) = Fake::start();
    let (ctx, stack) = context(&fake, client, "minimal");
    run(&ctx, &stack).await;
    let before = fake.get(SECRETS, "demo-postgres-admin").unwrap();
    delete_secret(&ctx, "demo-postgres-admin").await;
    run(&ctx, &stored(&fake, "demo")).await;
    let after = fake
        .get(SECRETS, "demo-postgres-admin")
        .expect("generated again");
    assert_ne!(
        after["data"], before["data"],
        "no data to match: a new password"
    );
    assert_eq!(degraded(&stored(&fake, "demo")).0, "False");
}

#[tokio::test]
async fn the_admin_password_is_retained_and_guarded_by_auths_volume() {
    let (fake, client) = Fake::start();
    let (ctx, stack) = context(&fake, client, "minimal");
    run(&ctx, &stack).await;
    let admin = fake
        .get(SECRETS, "demo-admin")
        .expect("admin password Secret");
    assert_eq!(admin["metadata"]["labels"]["natstack.dev/retain"], "true");
    assert!(
        admin["metadata"]["ownerReferences"].is_null(),
        "deleting the stack keeps it: {admin}"
    );

    // auth keeps its users (the admin among them) in MongoDB.
    fake.insert(CLAIMS, claim("data-demo-mongodb-0"));
    delete_secret(&ctx, "demo-admin").await;
    run(&ctx, &stored(&fake, "demo")).await;
    common::assert_mentions(
        &assert_degraded(&fake, "CredentialsLost"),
        &["demo-admin", "data-demo-mongodb-0"],
    );
    assert!(fake.get(SECRETS, "demo-admin").is_none());
}

#[tokio::test]
async fn an_admin_password_an_earlier_operator_owned_is_released_and_labelled() {
    let (fake, client) = Fake::start();
    let (ctx, stack) = context(&fake, client, "minimal");
    let owner =
        serde_json::to_value(kube::Resource::controller_owner_ref(&stack, &()).unwrap()).unwrap();
    fake.insert(
        SECRETS,
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "demo-admin", "namespace": "shop", "ownerReferences": [owner],
                            "labels": {"app.kubernetes.io/managed-by": "natstack-operator",
                                       "app.kubernetes.io/instance": "demo"}},
               "data": {"password": "b2xk"}}),
    );
    run(&ctx, &stack).await;
    let admin = fake.get(SECRETS, "demo-admin").unwrap();
    assert!(admin["metadata"]["ownerReferences"].is_null(), "{admin}");
    assert_eq!(admin["metadata"]["labels"]["natstack.dev/retain"], "true");
    assert_eq!(admin["data"]["password"], "b2xk", "the data is untouched");
}

#[tokio::test]
async fn a_changed_message_for_the_same_reason_is_a_new_event() {
    // kube's Recorder folds Events by reason (not by message) for six minutes.
    let (fake, client) = Fake::start();
    let (ctx, stack) = context(&fake, client, "external-databases");
    let referenced = operator::manifests::secrets::referenced(&stack.spec);
    assert!(referenced.len() >= 2, "{referenced:?}");
    run(&ctx, &stack).await;
    fake.insert(
        SECRETS,
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": referenced[0], "namespace": "shop"},
               "data": {"host": "ZGI=", "username": "YQ==", "password": "cA=="}}),
    );
    run(&ctx, &stored(&fake, "ext")).await;
    let notes: Vec<String> = events(&fake)
        .into_iter()
        .filter(|(_, reason, _)| reason == "MissingSecret")
        .map(|(_, _, note)| note)
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[0].contains(&referenced[0]), "{notes:?}");
    assert!(notes[1].contains(&referenced[1]), "{notes:?}");
}
