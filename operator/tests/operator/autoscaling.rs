//! Autoscaling: the HorizontalPodAutoscaler of a service or the gateway, its Deployment
//! without `replicas`, pools and budgets sized for `maxReplicas`, the rules on the settings,
//! and the server-side apply hand-off of `spec.replicas` seen at the request level.

use crate::common;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::core::DeserializeGuard;
use kube::core::cel::validate_cel;
use operator::controller::{Context, reconcile};
use operator::crd::{Autoscaling, MicroserviceStack};
use operator::manifests::common::{FIELD_MANAGER, REPLICAS_FIELD_MANAGER};
use operator::manifests::{Child, Children};
use operator::metrics::Metrics;
use serde_json::json;

use crate::common::paths::{DEPLOYMENTS, HPAS, STACKS};
use crate::fake::{Call, Fake};
use common::{container, env_map, find};

fn hpa<'a>(
    children: &'a Children,
    name: &str,
) -> &'a k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler {
    match find(children, "HorizontalPodAutoscaler", name) {
        Child::Hpa(h) => h,
        _ => unreachable!(),
    }
}

fn replicas(children: &Children, name: &str) -> Option<i32> {
    match find(children, "Deployment", name) {
        Child::Deployment(d) => d.spec.as_ref().unwrap().replicas,
        _ => unreachable!(),
    }
}

/// Position of `kind`/`name` in apply order.
fn position(children: &Children, kind: &str, name: &str) -> usize {
    children
        .iter()
        .position(|c| c.kind() == kind && c.name() == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn an_autoscaled_component_gets_an_hpa_after_its_deployment_and_no_replicas() {
    let stack = common::load("pods");
    let children = common::build(&stack);
    let uid = stack.metadata.uid.unwrap();
    for (name, min, max, target) in [("shop-customers", 1, 5, 80), ("shop-gateway", 2, 6, 70)] {
        assert_eq!(
            replicas(&children, name),
            None,
            "{name}: the HPA owns replicas"
        );
        let hpa = hpa(&children, name);
        let spec = hpa.spec.as_ref().unwrap();
        assert_eq!(spec.scale_target_ref.kind, "Deployment");
        assert_eq!(
            spec.scale_target_ref.api_version.as_deref(),
            Some("apps/v1")
        );
        assert_eq!(spec.scale_target_ref.name, name);
        assert_eq!((spec.min_replicas, spec.max_replicas), (Some(min), max));
        let metric = &spec.metrics.as_ref().unwrap()[0];
        let resource = metric.resource.as_ref().unwrap();
        assert_eq!(
            (metric.type_.as_str(), resource.name.as_str()),
            ("Resource", "cpu")
        );
        assert_eq!(resource.target.type_, "Utilization");
        assert_eq!(resource.target.average_utilization, Some(target));
        // Owned and labelled like every other child, so it is watched and pruned.
        let meta = &hpa.metadata;
        assert_eq!(meta.owner_references.as_ref().unwrap()[0].uid, uid);
        assert_eq!(
            meta.labels.as_ref().unwrap()["app.kubernetes.io/managed-by"],
            "natstack-operator"
        );
        // Applied after the Deployment it scales.
        assert!(
            position(&children, "HorizontalPodAutoscaler", name)
                > position(&children, "Deployment", name)
        );
    }
    // A service without autoscaling keeps its replicas and gets no HPA.
    assert_eq!(replicas(&children, "shop-products"), Some(1));
    assert!(
        children
            .find("HorizontalPodAutoscaler", "shop-products")
            .is_none()
    );
}

fn pool(stack: &MicroserviceStack) -> String {
    let children = common::build(stack);
    let name = format!("{}-customers", stack.metadata.name.as_ref().unwrap());
    env_map(container(&children, "Deployment", &name))["DATABASE_MAX_CONNECTIONS"]
        .value
        .clone()
        .unwrap()
}

#[test]
fn pools_and_disruption_budgets_are_sized_for_max_replicas() {
    let mut stack = common::load("pods");
    stack.spec.postgres.max_connections = Some(60);
    let children = common::build(&stack);
    // One replica now, up to five: a budget protects the pods the autoscaler adds.
    assert!(
        children
            .find("PodDisruptionBudget", "shop-customers")
            .is_some()
    );
    assert!(
        children
            .find("PodDisruptionBudget", "shop-gateway")
            .is_some()
    );
    assert!(
        children
            .find("PodDisruptionBudget", "shop-products")
            .is_none()
    );

    // customers may run five pods: the pools are those of five fixed replicas.
    let mut fixed = stack.clone();
    let customers = common::service_mut(&mut fixed, "customers");
    customers.autoscaling = None;
    customers.replicas = 5;
    assert_eq!(pool(&stack), pool(&fixed));
    let mut one = fixed.clone();
    common::service_mut(&mut one, "customers").replicas = 1;
    assert_ne!(pool(&stack), pool(&one), "sized for one pod");

    // A component that can never run two pods gets no budget.
    let mut single = stack;
    single.spec.gateway.autoscaling = Some(Autoscaling {
        min_replicas: 1,
        max_replicas: 1,
        target_cpu_utilization_percentage: 80,
    });
    assert!(
        common::build(&single)
            .find("PodDisruptionBudget", "shop-gateway")
            .is_none()
    );
}

fn cpu_less() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some([("memory".to_owned(), Quantity("64Mi".into()))].into()),
        limits: Some([("memory".to_owned(), Quantity("128Mi".into()))].into()),
        ..ResourceRequirements::default()
    }
}

#[test]
fn autoscaling_bounds_and_the_cpu_request_are_checked() {
    let mut inverted = common::load("pods");
    inverted
        .spec
        .gateway
        .autoscaling
        .as_mut()
        .unwrap()
        .min_replicas = 7;
    let cel = validate_cel(&inverted).expect_err("min > max admitted");
    assert!(format!("{cel:?}").contains("minReplicas must not exceed maxReplicas"));
    let problems = operator::validate::problems(&inverted);
    assert!(
        problems
            .iter()
            .any(|p| p
                .contains("gateway: autoscaling minReplicas (7) must not exceed maxReplicas (6)")),
        "{problems:?}"
    );

    let mut too_many = common::load("pods");
    too_many
        .spec
        .gateway
        .autoscaling
        .as_mut()
        .unwrap()
        .max_replicas = 51;
    assert!(
        operator::validate::problems(&too_many)
            .iter()
            .any(|p| p.contains("between 1 and 50"))
    );

    // Resources without a CPU request leave the autoscaler nothing to compare with.
    let mut no_cpu = common::load("pods");
    let customers = common::service_mut(&mut no_cpu, "customers");
    customers.resources = Some(cpu_less());
    let cel = validate_cel(&no_cpu).expect_err("autoscaling without a CPU request admitted");
    assert!(format!("{cel:?}").contains("requests.cpu"), "{cel:?}");
    let problems = operator::validate::problems(&no_cpu);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("service customers: autoscaling targets CPU")),
        "{problems:?}"
    );

    // A CPU limit alone is enough (the API server copies it to the request), and so are the
    // default resources.
    let mut limit_only = no_cpu.clone();
    let customers = common::service_mut(&mut limit_only, "customers");
    customers
        .resources
        .as_mut()
        .unwrap()
        .limits
        .as_mut()
        .unwrap()
        .insert("cpu".into(), Quantity("500m".into()));
    assert!(validate_cel(&limit_only).is_ok());
    assert!(operator::validate::problems(&limit_only).is_empty());
}

// --- The hand-off of spec.replicas, at the request level -------------------------------------

fn setup(stack: &MicroserviceStack) -> (Fake, Arc<Context>) {
    let (fake, client) = Fake::start();
    fake.insert(STACKS, serde_json::to_value(stack).unwrap());
    let ctx = Arc::new(Context::new(
        client,
        Arc::new(Metrics::default()),
        Duration::from_secs(300),
    ));
    (fake, ctx)
}

async fn reconcile_once(fake: &Fake, ctx: &Arc<Context>, stack: &MicroserviceStack) {
    fake.insert(STACKS, serde_json::to_value(stack).unwrap());
    reconcile(Arc::new(DeserializeGuard(Ok(stack.clone()))), ctx.clone())
        .await
        .expect("reconciled");
}

fn field_manager(call: &Call) -> Option<&str> {
    call.query
        .split('&')
        .find_map(|kv| kv.strip_prefix("fieldManager="))
}

fn forced(call: &Call) -> bool {
    call.query.split('&').any(|kv| kv == "force=true")
}

/// The writes (not reads) to `collection`/`name`, in order.
fn writes<'a>(log: &'a [Call], collection: &str, name: &str) -> Vec<(usize, &'a Call)> {
    log.iter()
        .enumerate()
        .filter(|(_, c)| {
            c.method != "GET" && c.collection == collection && c.name.as_deref() == Some(name)
        })
        .collect()
}

/// The customers service with fixed replicas (as before autoscaling was turned on).
fn fixed(replicas: i32) -> MicroserviceStack {
    let mut stack = common::load("pods");
    let customers = common::service_mut(&mut stack, "customers");
    customers.autoscaling = None;
    customers.replicas = replicas;
    stack
}

#[tokio::test]
async fn switching_to_autoscaling_co_owns_the_current_replicas_before_dropping_them() {
    let before = fixed(3);
    let (fake, ctx) = setup(&before);
    reconcile_once(&fake, &ctx, &before).await;
    fake.clear_log();

    let after = common::load("pods");
    reconcile_once(&fake, &ctx, &after).await;
    let log = fake.log();
    let deployment = writes(&log, DEPLOYMENTS, "shop-customers");
    assert_eq!(deployment.len(), 2, "{deployment:#?}");
    let (first, keep) = deployment[0];
    let (second, apply) = deployment[1];
    // First the current count under the second manager (forced: it only adds an owner)...
    assert_eq!(field_manager(keep), Some(REPLICAS_FIELD_MANAGER));
    assert!(forced(keep));
    assert_eq!(keep.body.as_ref().unwrap()["spec"], json!({"replicas": 3}));
    // ...then the operator's own apply, without replicas.
    assert_eq!(field_manager(apply), Some(FIELD_MANAGER));
    assert!(first < second);
    assert_eq!(apply.body.as_ref().unwrap()["spec"].get("replicas"), None);
    // The autoscaler comes after its Deployment.
    let hpa = writes(&log, HPAS, "shop-customers");
    assert_eq!(hpa.len(), 1);
    assert!(hpa[0].0 > second);
    assert_eq!(field_manager(hpa[0].1), Some(FIELD_MANAGER));
    // A Deployment that keeps fixed replicas is applied once, as before.
    let products = writes(&log, DEPLOYMENTS, "shop-products");
    assert_eq!(products.len(), 1);
    assert_eq!(field_manager(products[0].1), Some(FIELD_MANAGER));
    assert_eq!(products[0].1.body.as_ref().unwrap()["spec"]["replicas"], 1);

    // Handed over: the operator's apply no longer owns replicas, so nothing more to keep.
    let mut stored = fake.get(DEPLOYMENTS, "shop-customers").unwrap();
    stored["metadata"]["managedFields"] = json!([
        {"manager": FIELD_MANAGER, "operation": "Apply", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:spec": {"f:template": {}}}},
        {"manager": REPLICAS_FIELD_MANAGER, "operation": "Apply", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:spec": {"f:replicas": {}}}},
    ]);
    stored["spec"]["replicas"] = json!(3);
    fake.insert(DEPLOYMENTS, stored);
    fake.clear_log();
    reconcile_once(&fake, &ctx, &after).await;
    let log = fake.log();
    let again = writes(&log, DEPLOYMENTS, "shop-customers");
    assert_eq!(again.len(), 1, "{again:#?}");
    assert_eq!(field_manager(again[0].1), Some(FIELD_MANAGER));
    // The autoscaler's count is left alone: the apply never names replicas.
    assert_eq!(
        again[0].1.body.as_ref().unwrap()["spec"].get("replicas"),
        None
    );
}

#[tokio::test]
async fn a_new_autoscaled_deployment_needs_no_hand_off() {
    let stack = common::load("pods");
    let (fake, ctx) = setup(&stack);
    reconcile_once(&fake, &ctx, &stack).await;
    let log = fake.log();
    assert!(
        !log.iter()
            .any(|c| field_manager(c) == Some(REPLICAS_FIELD_MANAGER)),
        "nothing to keep on a Deployment that did not exist"
    );
    assert!(fake.get(HPAS, "shop-customers").is_some());
    assert!(fake.get(HPAS, "shop-gateway").is_some());
}

#[tokio::test]
async fn switching_back_to_fixed_replicas_takes_them_back_and_prunes_the_hpa() {
    let autoscaled = common::load("pods");
    let (fake, ctx) = setup(&autoscaled);
    reconcile_once(&fake, &ctx, &autoscaled).await;
    assert!(fake.get(HPAS, "shop-customers").is_some());
    fake.clear_log();

    let back = fixed(4);
    reconcile_once(&fake, &ctx, &back).await;
    let log = fake.log();
    let deployment = writes(&log, DEPLOYMENTS, "shop-customers");
    assert_eq!(deployment.len(), 1, "{deployment:#?}");
    let apply = deployment[0].1;
    assert_eq!(field_manager(apply), Some(FIELD_MANAGER));
    assert!(
        forced(apply),
        "forced, so the operator takes replicas back from the autoscaler"
    );
    assert_eq!(apply.body.as_ref().unwrap()["spec"]["replicas"], 4);
    let hpa: Vec<&str> = writes(&log, HPAS, "shop-customers")
        .iter()
        .map(|(_, c)| c.method.as_str())
        .collect();
    assert_eq!(hpa, ["DELETE"]);
    assert!(fake.get(HPAS, "shop-customers").is_none());
    // The gateway is still autoscaled: its autoscaler stays.
    assert!(fake.get(HPAS, "shop-gateway").is_some());
}
