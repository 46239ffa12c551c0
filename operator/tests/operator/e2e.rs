//! Cluster tests of the deployed operator (`make e2e` after `make kind-up images kind-load deploy`).
//!
//! Ignored by default: they need a cluster in the current kube context with the operator chart
//! installed cluster-wide and the images loaded. Each creates a namespace of its own and deletes
//! it at the end. `NATSTACK_REGISTRY` and `NATSTACK_VERSION` select the images.
//!
//! - `stack_becomes_ready_rolls_on_config_change_and_heals_drift`: ownership, a config rollout
//!   and drift correction.
//! - `stack_lifecycle`: the gateway answers, scaling a service, removing a service from the
//!   spec removes its objects, deleting the stack removes everything it owned.
//!
//! ```sh
//! cargo test -p operator --test operator -- e2e:: --ignored --nocapture --test-threads=1
//! ```

#![allow(
    clippy::print_stdout,
    reason = "progress of minutes-long cluster tests, shown with --nocapture"
)]

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::wait::{Condition, await_condition};
use kube::{Client, Resource, ResourceExt};
use operator::crd::{MicroserviceStack, MicroserviceStackSpec, ServiceSpec};
use operator::manifests::common::{CONFIG_HASH, LABEL_RETAIN};
use serde::de::DeserializeOwned;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(600);

fn is_ready() -> impl Condition<MicroserviceStack> {
    |stack: Option<&MicroserviceStack>| {
        stack.and_then(|s| s.status.as_ref()).is_some_and(|status| {
            status.observed_generation == stack.and_then(|s| s.metadata.generation)
                && status
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
        })
    }
}

fn config_hash(d: &Deployment) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(CONFIG_HASH)
        .cloned()
}

async fn wait<K, C>(api: &Api<K>, name: &str, condition: C) -> K
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
    C: Condition<K>,
{
    tokio::time::timeout(TIMEOUT, await_condition(api.clone(), name, condition))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {name}"))
        .expect("watch")
        .unwrap_or_else(|| panic!("{name} is gone"))
}

#[tokio::test]
#[ignore = "needs a cluster with the operator installed (make e2e)"]
async fn stack_becomes_ready_rolls_on_config_change_and_heals_drift() {
    let client = Client::try_default().await.expect("kube context");
    let namespace = format!("natstack-e2e-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": namespace}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");

    let mut spec: MicroserviceStackSpec = serde_json::from_value(serde_json::json!({})).unwrap();
    if let Ok(registry) = std::env::var("NATSTACK_REGISTRY") {
        spec.registry = registry;
    }
    if let Ok(version) = std::env::var("NATSTACK_VERSION") {
        spec.version = Some(version);
    }
    let stacks: Api<MicroserviceStack> = Api::namespaced(client.clone(), &namespace);
    let stack = stacks
        .create(&PostParams::default(), &MicroserviceStack::new("e2e", spec))
        .await
        .expect("create stack");
    let uid = stack.uid().expect("uid");
    wait(&stacks, "e2e", is_ready()).await;

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let gateway = deployments
        .get("e2e-gateway")
        .await
        .expect("gateway deployment");
    assert!(
        gateway
            .owner_references()
            .iter()
            .any(|o| o.uid == uid && o.controller == Some(true))
    );
    let before = config_hash(&gateway).expect("config hash");

    // A config change rolls the pods: the hash moves and the stack becomes Ready again.
    let patch = serde_json::json!({"spec": {"logLevel": "debug"}});
    stacks
        .patch("e2e", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch stack");
    let rolled = wait(
        &deployments,
        "e2e-gateway",
        move |d: Option<&Deployment>| d.and_then(config_hash).is_some_and(|h| h != before),
    )
    .await;
    assert_ne!(config_hash(&rolled), None);
    wait(&stacks, "e2e", is_ready()).await;

    // Drift: a deleted child comes back.
    let old_uid = deployments
        .get("e2e-customers")
        .await
        .expect("customers")
        .uid();
    deployments
        .delete("e2e-customers", &DeleteParams::default())
        .await
        .expect("delete");
    wait(
        &deployments,
        "e2e-customers",
        move |d: Option<&Deployment>| d.is_some_and(|d| d.uid() != old_uid),
    )
    .await;

    namespaces
        .delete(&namespace, &DeleteParams::background())
        .await
        .expect("delete namespace");
}

/// Name of the test stack; its children are `e2e-<component>`.
const STACK: &str = "e2e";
/// A stack starts databases, runs Jobs and rolls out five Deployments: give it time.
const READY_TIMEOUT: Duration = Duration::from_secs(600);
/// Garbage collection and pruning are quick, but background deletion is asynchronous.
const GONE_TIMEOUT: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_secs(5);

#[tokio::test]
#[ignore = "needs a cluster with the operator installed: make e2e"]
async fn stack_lifecycle() -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("no usable kubectl context")?;
    let namespace = create_namespace(&client).await?;
    println!("namespace {namespace}");
    let outcome = lifecycle(&client, &namespace).await;
    // Clean up whatever happened; the test's own error is the one worth reporting.
    let cleanup = Api::<Namespace>::all(client)
        .delete(&namespace, &DeleteParams::background())
        .await;
    outcome?;
    cleanup.context("delete the test namespace")?;
    Ok(())
}

async fn lifecycle(client: &Client, ns: &str) -> anyhow::Result<()> {
    let stacks: &Api<MicroserviceStack> = &Api::namespaced(client.clone(), ns);

    step("a stack becomes Ready");
    let mut spec = json!({});
    for (key, var) in [
        ("registry", "NATSTACK_REGISTRY"),
        ("version", "NATSTACK_VERSION"),
    ] {
        if let Ok(value) = std::env::var(var) {
            spec[key] = json!(value);
        }
    }
    let spec: MicroserviceStackSpec = serde_json::from_value(spec)?;
    let created = stacks
        .create(&PostParams::default(), &MicroserviceStack::new(STACK, spec))
        .await?;
    wait_ready(stacks, created.meta().generation.unwrap_or(1)).await?;

    step("the gateway answers");
    eventually(
        "GET /healthz through the gateway Service, /services through its health Service",
        READY_TIMEOUT,
        move || async move {
            let health = gateway_get(client, ns, "healthz").await;
            let services = gateway_get(client, ns, "health:services")
                .await
                .unwrap_or_default();
            Ok(health.is_ok()
                && ["auth", "customers", "products"]
                    .iter()
                    .all(|s| services.contains(s)))
        },
    )
    .await?;

    step("scaling a service scales its Deployment and adds a PodDisruptionBudget");
    let generation = set_services(stacks, |services| {
        services
            .iter_mut()
            .filter(|s| s.name == "customers")
            .for_each(|s| s.replicas = 2);
    })
    .await?;
    let deployments: &Api<Deployment> = &Api::namespaced(client.clone(), ns);
    eventually(
        "customers runs 2 ready replicas",
        READY_TIMEOUT,
        move || async move {
            let status = deployments
                .get(&format!("{STACK}-customers"))
                .await?
                .status
                .unwrap_or_default();
            Ok(status.ready_replicas == Some(2) && status.updated_replicas == Some(2))
        },
    )
    .await?;
    let pdbs = names::<PodDisruptionBudget>(client, ns, &component_selector("customers")).await?;
    ensure(
        !pdbs.is_empty(),
        "customers with 2 replicas has a PodDisruptionBudget",
    )?;
    wait_ready(stacks, generation).await?;

    step("removing a service from the spec removes its objects");
    let generation =
        set_services(stacks, |services| services.retain(|s| s.name != "products")).await?;
    eventually(
        "no products objects left (its Secrets aside)",
        GONE_TIMEOUT,
        move || async move {
            let left = products_objects(client, ns).await?;
            if !left.is_empty() {
                println!("  still there: {left:?}");
            }
            Ok(left.is_empty())
        },
    )
    .await?;
    wait_ready(stacks, generation).await?;
    ensure(
        deployments
            .get_opt(&format!("{STACK}-customers"))
            .await?
            .is_some(),
        "the other services are untouched",
    )?;

    step("deleting the stack removes everything it owned, and keeps its credentials");
    let retained_selector = format!("{},{LABEL_RETAIN}=true", stack_selector());
    let retained = names::<Secret>(client, ns, &retained_selector).await?;
    ensure(
        !retained.is_empty(),
        "the stack has retained credential Secrets",
    )?;
    stacks.delete(STACK, &DeleteParams::foreground()).await?;
    // Retained Secrets carry no ownerReference on purpose: the kept volumes still hold those
    // credentials. Everything else the stack made goes.
    let owned_selector = format!("{},{LABEL_RETAIN}!=true", stack_selector());
    eventually(
        "the stack and all its children are gone",
        GONE_TIMEOUT,
        move || {
            let owned_selector = owned_selector.clone();
            async move {
                let stack_left = stacks.get_opt(STACK).await?.is_some();
                let left = owned_matching(client, ns, &owned_selector).await?;
                if !left.is_empty() {
                    println!("  still there: {left:?}");
                }
                Ok(!stack_left && left.is_empty())
            }
        },
    )
    .await?;
    let kept = names::<Secret>(client, ns, &retained_selector).await?;
    ensure(kept == retained, "the retained credential Secrets stay")
}

/// A namespace with a unique name, so runs never collide.
async fn create_namespace(client: &Client) -> anyhow::Result<String> {
    let suffix = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() % 1_000_000_000;
    let name = format!("natstack-e2e-{suffix}");
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    Ok(name)
}

/// Replaces `spec.services` with an edited copy; returns the new generation.
async fn set_services(
    stacks: &Api<MicroserviceStack>,
    edit: impl FnOnce(&mut Vec<ServiceSpec>),
) -> anyhow::Result<i64> {
    let mut services = stacks.get(STACK).await?.spec.services;
    edit(&mut services);
    let patch = json!({ "spec": { "services": services } });
    let stack = stacks
        .patch(STACK, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    stack.meta().generation.context("no generation")
}

/// Waits for `Ready=True` on a status that describes `generation` or later.
async fn wait_ready(stacks: &Api<MicroserviceStack>, generation: i64) -> anyhow::Result<()> {
    eventually(
        &format!("stack Ready at generation {generation}"),
        READY_TIMEOUT,
        move || async move {
            let status = stacks.get(STACK).await?.status.unwrap_or_default();
            let ready = status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            let current = status.observed_generation.unwrap_or(0) >= generation;
            println!(
                "  ready={ready} observed={current} components={}",
                status.ready_components.unwrap_or_default()
            );
            Ok(ready && current)
        },
    )
    .await
}

/// GET a gateway path through the API server's Service proxy (no port mapping needed): on the
/// public Service, or on the health Service (`/services`, `/metrics`) for `health:path`.
async fn gateway_get(client: &Client, ns: &str, path: &str) -> anyhow::Result<String> {
    let uri = match path.strip_prefix("health:") {
        Some(path) => {
            format!("/api/v1/namespaces/{ns}/services/{STACK}-gateway-health:health/proxy/{path}")
        }
        None => format!("/api/v1/namespaces/{ns}/services/{STACK}-gateway:http/proxy/{path}"),
    };
    Ok(client
        .request_text(http::Request::get(uri).body(Vec::new())?)
        .await?)
}

fn component_selector(component: &str) -> String {
    format!("app.kubernetes.io/instance={STACK},app.kubernetes.io/name={component}")
}

/// `Kind/name` of what the operator made for the `products` service: labelled with it (its
/// Deployment, Services, NetworkPolicy, database Job) or named after it. Its Secrets do not
/// count: the operator never deletes Secrets, they go with the stack.
async fn products_objects(client: &Client, ns: &str) -> anyhow::Result<Vec<String>> {
    let labelled = format!(
        "{},app.kubernetes.io/name in (products,products-db-init)",
        stack_selector()
    );
    let mut left: Vec<String> = owned_matching(client, ns, &labelled).await?;
    let prefix = format!("/{STACK}-products");
    left.extend(
        owned_matching(client, ns, &stack_selector())
            .await?
            .into_iter()
            .filter(|o| o.contains(&prefix)),
    );
    left.sort();
    left.dedup();
    left.retain(|o| !o.starts_with("Secret/"));
    Ok(left)
}

/// `Kind/name` of every object of the kinds the operator owns that matches `selector`.
async fn owned_matching(client: &Client, ns: &str, selector: &str) -> anyhow::Result<Vec<String>> {
    let mut all = Vec::new();
    all.extend(names::<Deployment>(client, ns, selector).await?);
    all.extend(names::<StatefulSet>(client, ns, selector).await?);
    all.extend(names::<Service>(client, ns, selector).await?);
    all.extend(names::<ConfigMap>(client, ns, selector).await?);
    all.extend(names::<Secret>(client, ns, selector).await?);
    all.extend(names::<Job>(client, ns, selector).await?);
    all.extend(names::<PodDisruptionBudget>(client, ns, selector).await?);
    all.extend(names::<NetworkPolicy>(client, ns, selector).await?);
    Ok(all)
}

/// Every child of the test stack.
fn stack_selector() -> String {
    format!("app.kubernetes.io/managed-by=natstack-operator,app.kubernetes.io/instance={STACK}")
}

/// `Kind/name` of the objects of kind `K` matching `selector`.
async fn names<K>(client: &Client, ns: &str, selector: &str) -> anyhow::Result<Vec<String>>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let list = api.list(&ListParams::default().labels(selector)).await?;
    Ok(list
        .items
        .iter()
        .map(|o| format!("{}/{}", K::kind(&()), o.name_any()))
        .collect())
}

/// Polls `check` until it returns true, failing after `timeout`. Errors count as "not yet".
async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let start = Instant::now();
    loop {
        match check().await {
            Ok(true) => {
                println!("  ok: {what} ({}s)", start.elapsed().as_secs());
                return Ok(());
            }
            Ok(false) => {}
            Err(e) => println!("  waiting for {what}: {e:#}"),
        }
        if start.elapsed() > timeout {
            bail!("timed out after {}s waiting for: {what}", timeout.as_secs());
        }
        tokio::time::sleep(POLL).await;
    }
}

fn ensure(condition: bool, what: &str) -> anyhow::Result<()> {
    if !condition {
        bail!("expected: {what}");
    }
    println!("  ok: {what}");
    Ok(())
}

fn step(what: &str) {
    println!("== {what}");
}
