//! Whole reconciles against a fake API server (tower-test mock): first apply, idempotence,
//! pruning, created-once Secrets, invalid stacks, pausing and backoff; and the controller's
//! watches, which must never reach Secrets that are not the operator's.
//!
//! User Secrets, the watches and the credentials kept across deletion are in [`secrets`].

mod secrets;

use crate::common::{self, base64};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::core::DeserializeGuard;
use kube::core::error_boundary::InvalidObject;
use kube::runtime::controller::Action;
use operator::controller::{Context, error_policy, reconcile};
use operator::crd::MicroserviceStack;
use operator::manifests::{self, SecretData};
use operator::metrics::Metrics;
use serde_json::{Value, json};

use crate::common::paths::{DEPLOYMENTS, JOBS, RESYNC, SECRETS, STACKS};
use crate::fake::{Call, Fake};

const NS: &str = "/namespaces/shop/";
/// Nothing is ready on the fake (no kubelet): looked at again sooner than the resync period.
const NOT_READY: Duration = operator::controller::NOT_READY_RETRY_AFTER;

fn setup(fixture: &str) -> (Fake, Arc<Context>, MicroserviceStack) {
    let (fake, client) = Fake::start();
    let stack = common::load(fixture);
    fake.insert(STACKS, serde_json::to_value(&stack).unwrap());
    let ctx = Arc::new(Context::new(client, Arc::new(Metrics::default()), RESYNC));
    (fake, ctx, stack)
}

async fn run(
    ctx: &Arc<Context>,
    stack: &MicroserviceStack,
) -> Result<Action, operator::error::Error> {
    reconcile(Arc::new(DeserializeGuard(Ok(stack.clone()))), ctx.clone()).await
}

fn stored_stack(fake: &Fake, name: &str) -> MicroserviceStack {
    serde_json::from_value(fake.get(STACKS, name).expect("stack stored")).expect("stack")
}

fn stored_secrets(fake: &Fake) -> SecretData {
    fake.names(SECRETS)
        .into_iter()
        .map(|name| {
            let secret: Secret = serde_json::from_value(fake.get(SECRETS, &name).unwrap()).unwrap();
            (name, operator::generate::decode(&secret))
        })
        .collect()
}

fn plural(kind: &str) -> String {
    match kind {
        "PodDisruptionBudget" => "poddisruptionbudgets".into(),
        "NetworkPolicy" => "networkpolicies".into(),
        other => format!("{}s", other.to_lowercase()),
    }
}

fn child_writes(log: &[Call]) -> Vec<&Call> {
    log.iter()
        .filter(|c| {
            c.method != "GET"
                && c.subresource.is_none()
                && c.resource() != "events"
                && c.resource() != "microservicestacks"
        })
        .collect()
}

fn status_patches(log: &[Call]) -> Vec<&Call> {
    log.iter()
        .filter(|c| c.subresource.as_deref() == Some("status"))
        .collect()
}

fn events(log: &[Call]) -> Vec<Value> {
    log.iter()
        .filter(|c| c.resource() == "events" && c.method == "POST")
        .filter_map(|c| c.body.clone())
        .collect()
}

#[tokio::test]
async fn first_apply_creates_everything_in_dependency_order() {
    let (fake, ctx, stack) = setup("minimal");
    assert_eq!(run(&ctx, &stack).await.unwrap(), Action::requeue(NOT_READY));
    let log = fake.log();

    // Created-once Secrets come first, by create (never apply).
    let expected_generated: Vec<String> = {
        let ctx = manifests::common::Ctx::new(&stack).unwrap();
        manifests::secrets::generated(&ctx)
            .iter()
            .map(|g| g.name().to_owned())
            .collect()
    };
    let writes = child_writes(&log);
    let creates: Vec<String> = writes
        .iter()
        .take_while(|c| c.method == "POST")
        .map(|c| {
            c.body.as_ref().unwrap()["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(creates, expected_generated);

    // Then every child by server-side apply with one field manager, forced, in build order.
    let applies: Vec<&&Call> = writes.iter().filter(|c| c.method == "PATCH").collect();
    for call in &applies {
        assert!(
            call.query.contains("fieldManager=natstack-operator"),
            "{}",
            call.query
        );
        assert!(call.query.contains("force=true"), "{}", call.query);
        assert!(call.collection.contains(NS));
        assert!(
            call.body.as_ref().unwrap()["apiVersion"].is_string(),
            "apply body carries apiVersion"
        );
    }
    let applied: Vec<String> = applies
        .iter()
        .map(|c| format!("{}/{}", c.resource(), c.name.as_deref().unwrap()))
        .collect();
    let expected = manifests::build(&stack, &stored_secrets(&fake)).unwrap();
    let expected: Vec<String> = expected
        .iter()
        .map(|c| format!("{}/{}", plural(c.kind()), c.name()))
        .collect();
    assert_eq!(applied, expected);
    assert!(applied.first().unwrap().starts_with("secrets/"));
    assert_eq!(applied.last().unwrap(), "services/demo-gateway");
    let sts = applied
        .iter()
        .position(|a| a == "statefulsets/demo-postgres")
        .unwrap();
    let customers = applied
        .iter()
        .position(|a| a == "deployments/demo-customers")
        .unwrap();
    assert!(sts < customers, "databases before services");

    // Nothing pruned on a fresh stack; status reports progress (no workload is ready yet).
    assert!(writes.iter().all(|c| c.method != "DELETE"));
    assert_eq!(status_patches(&log).len(), 1);
    let stored = stored_stack(&fake, "demo");
    common::assert_condition(&stored, "Ready", "False", "ComponentsNotReady");
    assert_eq!(common::condition(&stored, "Progressing").0, "True");
    assert_eq!(common::condition(&stored, "Degraded").0, "False");
    let status = stored.status.unwrap();
    assert_eq!(status.observed_generation, None, "applied, not yet running");
    assert_eq!(status.ready_components.as_deref(), Some("0/7"));
    assert_eq!(
        status.gateway_address.as_deref(),
        Some("http://demo-gateway.shop.svc:80")
    );
    assert!(fake.get(SECRETS, "demo-jwt").is_some());
}

#[tokio::test]
async fn second_reconcile_without_changes_writes_nothing() {
    let (fake, ctx, stack) = setup("minimal");
    run(&ctx, &stack).await.unwrap();
    fake.clear_log();
    let again = stored_stack(&fake, "demo");
    assert_eq!(run(&ctx, &again).await.unwrap(), Action::requeue(NOT_READY));
    let log = fake.log();
    let changed: Vec<String> = log
        .iter()
        .filter(|c| c.changed)
        .map(|c| format!("{} {}/{:?}", c.method, c.collection, c.name))
        .collect();
    assert!(changed.is_empty(), "writes that changed state: {changed:?}");
    assert!(
        log.iter()
            .all(|c| c.method != "POST" && c.method != "DELETE")
    );
    assert!(
        status_patches(&log).is_empty(),
        "unchanged status is not written"
    );
}

#[tokio::test]
async fn workload_readiness_makes_the_stack_ready() {
    let (fake, ctx, stack) = setup("minimal");
    run(&ctx, &stack).await.unwrap();
    // The controllers report each rollout for the generation they observed.
    fake.roll_out_all();
    fake.clear_log();
    run(&ctx, &stored_stack(&fake, "demo")).await.unwrap();
    let stored = stored_stack(&fake, "demo");
    common::assert_condition(&stored, "Ready", "True", "AllComponentsReady");
    assert_eq!(
        stored.status.unwrap().ready_components.as_deref(),
        Some("7/7")
    );
    let reasons: Vec<String> = events(&fake.log())
        .iter()
        .map(|e| e["reason"].as_str().unwrap().to_owned())
        .collect();
    assert!(reasons.contains(&"Ready".to_owned()), "{reasons:?}");
}

#[tokio::test]
async fn removed_service_children_are_pruned_but_not_foreign_objects() {
    let (fake, ctx, stack) = setup("minimal");
    run(&ctx, &stack).await.unwrap();
    // Same labels, another owner: not ours, never deleted.
    let mut foreign = fake.get(DEPLOYMENTS, "demo-products").unwrap();
    foreign["metadata"]["name"] = json!("demo-foreign");
    foreign["metadata"]["ownerReferences"][0]["uid"] = json!("someone-else");
    fake.insert(DEPLOYMENTS, foreign);
    fake.clear_log();

    let mut smaller = stored_stack(&fake, "demo");
    smaller.spec.services.retain(|s| s.name != "products");
    run(&ctx, &smaller).await.unwrap();
    let mut deleted: Vec<String> = fake
        .log()
        .iter()
        .filter(|c| c.method == "DELETE")
        .map(|c| format!("{}/{}", c.resource(), c.name.as_deref().unwrap()))
        .collect();
    deleted.sort();
    let job = deleted
        .iter()
        .find(|d| d.starts_with("jobs/demo-products-db-"))
        .cloned();
    assert!(job.is_some(), "{deleted:?}");
    let mut expected = vec![
        "deployments/demo-products".to_owned(),
        job.unwrap(),
        "networkpolicies/demo-products".to_owned(),
        "services/demo-products".to_owned(),
    ];
    expected.sort();
    assert_eq!(deleted, expected);
    assert!(fake.get(DEPLOYMENTS, "demo-foreign").is_some());
    // The operator never deletes Secrets: they go with the stack (ownerReference).
    for kept in [
        "demo-products-db",
        "demo-nats-products",
        "demo-products-db-url",
    ] {
        assert!(fake.get(SECRETS, kept).is_some(), "{kept}");
    }
    assert!(fake.get(DEPLOYMENTS, "demo-customers").is_some());
}

#[tokio::test]
async fn existing_credentials_are_never_overwritten() {
    let (fake, ctx, stack) = setup("minimal");
    let owner =
        serde_json::to_value(kube::Resource::controller_owner_ref(&stack, &()).unwrap()).unwrap();
    let existing = |name: &str, user: &str| {
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": name, "namespace": "shop", "ownerReferences": [owner],
                            "labels": {"app.kubernetes.io/managed-by": "natstack-operator", "app.kubernetes.io/instance": "demo"}},
               "data": {"username": base64(user), "password": base64("keep-me"), "database": base64(user)}})
    };
    fake.insert(SECRETS, existing("demo-postgres-admin", "postgres"));
    fake.insert(SECRETS, existing("demo-customers-db", "customers"));
    run(&ctx, &stack).await.unwrap();
    let log = fake.log();
    let touched: Vec<&Call> = child_writes(&log)
        .into_iter()
        .filter(|c| c.resource() == "secrets")
        // Releasing a retained Secret from the stack's ownership touches metadata only.
        .filter(|c| {
            c.body.as_ref().is_none_or(|b| {
                b.as_object()
                    .is_none_or(|o| o.keys().any(|k| k != "metadata"))
            })
        })
        .filter(|c| {
            let name = c.name.clone().or_else(|| {
                c.body
                    .as_ref()
                    .and_then(|b| b["metadata"]["name"].as_str().map(str::to_owned))
            });
            matches!(
                name.as_deref(),
                Some("demo-postgres-admin" | "demo-customers-db")
            )
        })
        .collect();
    assert!(
        touched.is_empty(),
        "existing credentials were written: {touched:?}"
    );
    let secrets = stored_secrets(&fake);
    assert_eq!(secrets["demo-postgres-admin"]["password"], "keep-me");
    assert_eq!(
        secrets["demo-customers-db-url"]["url"],
        "postgres://customers:keep-me@demo-postgres.shop.svc:5432/customers"
    );
    assert_ne!(
        secrets["demo-products-db"]["password"], "keep-me",
        "absent ones are generated"
    );
}

#[tokio::test]
async fn invalid_stack_is_degraded_with_an_event_and_no_writes() {
    let (fake, ctx, _) = setup("invalid/nats-replicas");
    let stack = stored_stack(&fake, "two");
    assert_eq!(
        run(&ctx, &stack).await.unwrap(),
        Action::await_change(),
        "no retry loop"
    );
    let log = fake.log();
    assert!(child_writes(&log).is_empty());
    let stored = stored_stack(&fake, "two");
    common::assert_condition(&stored, "Degraded", "True", "InvalidSpec");
    let events = events(&log);
    let invalid = events
        .iter()
        .find(|e| e["reason"] == "InvalidSpec")
        .expect("InvalidSpec event");
    assert_eq!(invalid["type"], "Warning");
    assert!(
        invalid["note"]
            .as_str()
            .unwrap()
            .contains("nats replicas must be 1 or 3")
    );
    assert_eq!(invalid["regarding"]["name"], "two");
}

#[tokio::test]
async fn invalid_gateway_limits_are_degraded_naming_the_field() {
    let (fake, ctx, _) = setup("invalid/rate-limits");
    let stack = stored_stack(&fake, "lim");
    assert_eq!(run(&ctx, &stack).await.unwrap(), Action::await_change());
    assert!(child_writes(&fake.log()).is_empty());
    let stored = stored_stack(&fake, "lim");
    common::assert_condition(&stored, "Degraded", "True", "InvalidSpec");
    let events = events(&fake.log());
    let note = events
        .iter()
        .find(|e| e["reason"] == "InvalidSpec")
        .and_then(|e| e["note"].as_str())
        .expect("InvalidSpec event")
        .to_owned();
    assert!(note.contains("gateway rateLimits: `auth=0/s`"), "{note}");
}

#[tokio::test]
async fn undeserializable_stack_gets_an_event_and_waits() {
    let (fake, ctx, _) = setup("minimal");
    let guard = DeserializeGuard::<MicroserviceStack>(Err(InvalidObject {
        error: "spec.nats.replicas: invalid type".into(),
        metadata: common::load("minimal").metadata,
    }));
    assert_eq!(
        reconcile(Arc::new(guard), ctx).await.unwrap(),
        Action::await_change()
    );
    let log = fake.log();
    assert!(child_writes(&log).is_empty());
    assert!(
        events(&log)
            .iter()
            .any(|e| e["reason"] == "InvalidObject" && e["type"] == "Warning")
    );
}

#[tokio::test]
async fn a_stack_being_deleted_is_left_to_the_garbage_collector() {
    // A foreground delete sets deletionTimestamp while the garbage collector removes the
    // children: applying them again would re-create what it just deleted.
    let (fake, ctx, mut stack) = setup("minimal");
    stack.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::now(),
    ));
    assert_eq!(run(&ctx, &stack).await.unwrap(), Action::await_change());
    let log = fake.log();
    assert!(log.iter().all(|c| c.method == "GET"), "{log:?}");
}

#[test]
fn children_block_their_owners_foreground_deletion() {
    let stack = common::load("minimal");
    for child in common::build(&stack).iter() {
        let owners = child.meta().owner_references.as_deref().unwrap_or_default();
        for owner in owners {
            assert_eq!(owner.block_owner_deletion, Some(true), "{}", child.name());
            assert_eq!(owner.controller, Some(true), "{}", child.name());
        }
    }
}

#[tokio::test]
async fn paused_stack_changes_nothing() {
    let (fake, ctx, stack) = setup("paused");
    assert_eq!(run(&ctx, &stack).await.unwrap(), Action::requeue(RESYNC));
    let log = fake.log();
    assert!(child_writes(&log).is_empty(), "{:?}", child_writes(&log));
    common::assert_condition(
        &stored_stack(&fake, "frozen"),
        "Progressing",
        "False",
        "Paused",
    );
}

#[tokio::test]
async fn api_errors_back_off_exponentially_and_reset_on_success() {
    let (fake, ctx, stack) = setup("minimal");
    fake.fail_writes(Some(500));
    let guard = Arc::new(DeserializeGuard(Ok(stack.clone())));
    let mut delays = Vec::new();
    for _ in 0..4 {
        let error = reconcile(guard.clone(), ctx.clone())
            .await
            .expect_err("API failure is an error");
        assert!(!error.is_permanent());
        delays.push(error_policy(guard.clone(), &error, ctx.clone()));
    }
    let secs = |s| Action::requeue(Duration::from_secs(s));
    assert_eq!(delays, [secs(1), secs(2), secs(4), secs(8)]);
    let stored = stored_stack(&fake, "demo");
    common::assert_condition(&stored, "Degraded", "True", "ApiError");
    assert!(
        events(&fake.log())
            .iter()
            .any(|e| e["reason"] == "ApiError" && e["type"] == "Warning")
    );

    fake.fail_writes(None);
    assert!(reconcile(guard.clone(), ctx.clone()).await.is_ok());
    fake.fail_writes(Some(500));
    let error = reconcile(guard.clone(), ctx.clone()).await.unwrap_err();
    assert_eq!(
        error_policy(guard, &error, ctx.clone()),
        secs(1),
        "success resets the backoff"
    );
    let metrics = ctx.metrics.encode();
    assert!(
        metrics.contains("natstack_operator_reconciles_total{result=\"error\"} 5"),
        "{metrics}"
    );
    assert!(
        metrics.contains("natstack_operator_reconcile_failures_total{reason=\"ApiError\"} 5"),
        "{metrics}"
    );
}

#[test]
fn backoff_is_capped() {
    assert_eq!(
        operator::controller::backoff_delay(1),
        Duration::from_secs(1)
    );
    assert_eq!(
        operator::controller::backoff_delay(3),
        Duration::from_secs(4)
    );
    assert_eq!(
        operator::controller::backoff_delay(40),
        Duration::from_secs(300)
    );
}

fn fail_job(fake: &Fake, name: &str, seconds_ago: i64) {
    let at = k8s_openapi::jiff::Timestamp::now()
        - k8s_openapi::jiff::SignedDuration::from_secs(seconds_ago);
    let mut job = fake.get(JOBS, name).unwrap();
    job["status"] = json!({"failed": 11, "conditions": [{
        "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
        "message": "Job has reached the specified backoff limit",
        "lastTransitionTime": at.to_string(),
    }]});
    fake.insert(JOBS, job);
}

#[tokio::test]
async fn a_failed_provisioning_job_is_reported_then_run_again() {
    let (fake, ctx, stack) = setup("minimal");
    run(&ctx, &stack).await.unwrap();
    let job = fake
        .names(JOBS)
        .into_iter()
        .find(|n| n.starts_with("demo-products-db-"))
        .unwrap();

    // Just failed: kept (its pods' logs say why) and reported.
    fail_job(&fake, &job, 5);
    fake.clear_log();
    assert_eq!(
        run(&ctx, &stored_stack(&fake, "demo")).await.unwrap(),
        Action::requeue(NOT_READY.min(operator::status::JOB_RETRY_AFTER)),
        "looked at again by the time the retry is due, not at the next resync"
    );
    assert!(fake.get(JOBS, &job).is_some());
    let stored = stored_stack(&fake, "demo");
    let status = stored.status.clone().unwrap();
    let failed = status
        .components
        .iter()
        .find(|c| c.name == "products-db-init")
        .expect("the failed job is a component");
    assert!(!failed.ready);
    assert_eq!(failed.kind, "Job");
    let message = failed.message.as_deref().unwrap();
    assert!(
        message.contains(&job) && message.contains("BackoffLimitExceeded"),
        "{message}"
    );
    assert!(common::condition(&stored, "Ready").0 == "False");

    // Failed long enough: deleted, so that the next reconcile creates it afresh.
    fail_job(&fake, &job, 120);
    fake.clear_log();
    run(&ctx, &stored_stack(&fake, "demo")).await.unwrap();
    let deleted: Vec<String> = fake
        .log()
        .iter()
        .filter(|c| c.method == "DELETE")
        .filter_map(|c| c.name.clone())
        .collect();
    assert_eq!(deleted, [job.as_str()]);
    run(&ctx, &stored_stack(&fake, "demo")).await.unwrap();
    let again = fake.get(JOBS, &job).expect("created again");
    assert!(again.get("status").is_none(), "a fresh run: {again}");
}
