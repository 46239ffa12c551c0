//! Pods fitted to a real cluster: `imagePullSecrets` on every pod, `podOverrides` merged into
//! each component's pods (never over the operator's own labels), and resources on every
//! container, including the NATS reloader and the provisioning Jobs.

use crate::common;

use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::core::cel::validate_cel;
use operator::crd::MicroserviceStack;
use operator::manifests::common::{CONFIG_HASH, LABEL_NAME};
use operator::manifests::pods::memory_bytes;
use operator::manifests::{Child, Children};

use common::{find, pod};

const MIB: u64 = 1024 * 1024;

/// Every workload's pod template, named `Kind/name`.
fn templates(children: &Children) -> Vec<(String, &PodTemplateSpec)> {
    children
        .iter()
        .filter_map(|c| Some((format!("{}/{}", c.kind(), c.name()), c.pod_template()?)))
        .collect()
}

fn pod_of<'a>(children: &'a Children, kind: &str, name: &str) -> &'a PodSpec {
    pod(find(children, kind, name)).expect("pod spec")
}

/// The provisioning Job of `service` in stack `stack`, found by its name's start: the rest is
/// a hash of its template.
fn job<'a>(children: &'a Children, stack: &str, service: &str) -> &'a Child {
    children
        .iter()
        .find(|c| c.kind() == "Job" && c.name().starts_with(&format!("{stack}-{service}-db-")))
        .unwrap_or_else(|| panic!("no Job of {service}"))
}

/// The verdicts of the CRD's CEL rules and of the operator's validation on `stack`.
fn verdicts(stack: &MicroserviceStack) -> (Result<(), String>, Vec<String>) {
    (
        validate_cel(stack).map_err(|e| format!("{e:?}")),
        operator::validate::problems(stack),
    )
}

#[track_caller]
fn assert_refused(stack: &MicroserviceStack, cel_says: &str, validation_says: &str) {
    let (cel, problems) = verdicts(stack);
    let cel = cel.expect_err("the CRD rules admitted it");
    assert!(cel.contains(cel_says), "{cel}");
    assert!(
        problems.iter().any(|p| p.contains(validation_says)),
        "{problems:?}"
    );
}

#[test]
fn every_pod_of_the_stack_pulls_with_the_image_pull_secrets() {
    let stack = common::load("pods");
    let children = common::build(&stack);
    let all = templates(&children);
    // NATS, both databases, three services, the gateway and three provisioning Jobs.
    assert_eq!(
        all.len(),
        10,
        "{:?}",
        all.iter().map(|t| &t.0).collect::<Vec<_>>()
    );
    for (what, template) in all {
        let secrets: Vec<&str> = template
            .spec
            .as_ref()
            .and_then(|s| s.image_pull_secrets.as_ref())
            .unwrap_or_else(|| panic!("{what} has no imagePullSecrets"))
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(secrets, ["regcred", "mirror.example.com"], "{what}");
    }
}

#[test]
fn pod_overrides_reach_exactly_their_component() {
    let stack = common::load("pods");
    let children = common::build(&stack);

    let nats = pod_of(&children, "StatefulSet", "shop-nats");
    assert_eq!(nats.node_selector.as_ref().unwrap()["pool"], "messaging");
    let postgres = pod_of(&children, "StatefulSet", "shop-postgres");
    assert_eq!(
        postgres.tolerations.as_ref().unwrap()[0].value.as_deref(),
        Some("databases")
    );
    let mongodb = pod_of(&children, "StatefulSet", "shop-mongodb");
    assert_eq!(
        mongodb.priority_class_name.as_deref(),
        Some("natstack-data")
    );
    let gateway = pod_of(&children, "Deployment", "shop-gateway");
    assert_eq!(
        gateway.service_account_name.as_deref(),
        Some("shop-gateway")
    );
    // A ServiceAccount of the user's does not mount the API token: no component calls the API.
    assert_eq!(gateway.automount_service_account_token, Some(false));
    assert!(gateway.affinity.as_ref().unwrap().node_affinity.is_some());
    // The operator's own spread over nodes stays next to the user's affinity.
    assert!(gateway.topology_spread_constraints.is_some());

    let customers = find(&children, "Deployment", "shop-customers")
        .pod_template()
        .unwrap();
    let meta = customers.metadata.as_ref().unwrap();
    assert_eq!(meta.labels.as_ref().unwrap()["team"], "crm");
    assert_eq!(meta.labels.as_ref().unwrap()[LABEL_NAME], "customers");
    let annotations = meta.annotations.as_ref().unwrap();
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert!(annotations.contains_key(CONFIG_HASH), "config hash kept");

    for service in ["auth", "customers", "products"] {
        let labels = job(&children, "shop", service)
            .pod_template()
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.as_ref())
            .unwrap();
        assert_eq!(labels["sidecar.istio.io/inject"], "false", "{service}");
    }

    // Nothing leaks into the other components.
    let products = pod_of(&children, "Deployment", "shop-products");
    assert_eq!(products.node_selector, None);
    assert_eq!(products.service_account_name, None);
    let products_labels = find(&children, "Deployment", "shop-products")
        .pod_template()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.as_ref())
        .unwrap();
    assert!(!products_labels.contains_key("team"));
    assert_eq!(
        pod_of(&children, "StatefulSet", "shop-postgres").node_selector,
        None
    );
}

#[test]
fn changing_an_override_rolls_the_pods_and_makes_new_jobs() {
    let stack = common::load("pods");
    let before = common::build(&stack);
    let mut edited = stack;
    let jobs = edited.spec.pod_overrides.jobs.get_or_insert_default();
    jobs.node_selector.insert("pool".into(), "batch".into());
    edited
        .spec
        .pod_overrides
        .services
        .get_mut("customers")
        .unwrap()
        .annotations
        .insert("example.com/owner".into(), "crm".into());
    let after = common::build(&edited);
    // A Job's template is immutable: a changed one is a new Job (its name carries the hash).
    assert_ne!(
        job(&before, "shop", "auth").name(),
        job(&after, "shop", "auth").name()
    );
    let template = |c: &Children| {
        find(c, "Deployment", "shop-customers")
            .pod_template()
            .cloned()
            .unwrap()
    };
    assert_ne!(template(&before), template(&after), "the Deployment rolls");
    // Components whose overrides did not change are left alone.
    assert_eq!(
        find(&before, "Deployment", "shop-products"),
        find(&after, "Deployment", "shop-products")
    );
}

/// The `pods` fixture with `key: value` added to the gateway's pod labels.
fn with_gateway_label(key: &str, value: &str) -> MicroserviceStack {
    let mut stack = common::load("pods");
    stack
        .spec
        .pod_overrides
        .gateway
        .get_or_insert_default()
        .labels
        .insert(key.into(), value.into());
    stack
}

#[test]
fn the_operators_own_labels_and_annotations_cannot_be_overridden() {
    for key in [
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/managed-by",
        "app.kubernetes.io/part-of",
        "natstack.dev/job",
    ] {
        let stack = with_gateway_label(key, "mine");
        assert_refused(
            &stack,
            "cannot replace the labels the operator sets",
            &format!("podOverrides.gateway.labels: {key} is set by the operator"),
        );
        // A CRD without the rule still cannot break a selector: the builder keeps its own.
        let children = common::build(&stack);
        let labels = find(&children, "Deployment", "shop-gateway")
            .pod_template()
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.as_ref())
            .unwrap();
        assert_ne!(labels.get(key).map(String::as_str), Some("mine"), "{key}");
    }
    let mut stack = common::load("pods");
    stack
        .spec
        .pod_overrides
        .nats
        .get_or_insert_default()
        .annotations
        .insert(CONFIG_HASH.into(), "0".into());
    assert_refused(
        &stack,
        "natstack.dev/ prefix",
        "podOverrides.nats.annotations: natstack.dev/config-hash",
    );
    // Labels of other prefixes are the user's (app.kubernetes.io/version, say).
    let stack = with_gateway_label("app.kubernetes.io/version", "2");
    let (cel, problems) = verdicts(&stack);
    assert!(cel.is_ok() && problems.is_empty(), "{cel:?} {problems:?}");
}

#[test]
fn overrides_of_a_service_the_stack_does_not_have_are_refused() {
    let mut stack = common::load("pods");
    stack
        .spec
        .pod_overrides
        .services
        .insert("orders".into(), operator::crd::PodOverrides::default());
    assert_refused(
        &stack,
        "podOverrides.services names a service that is not in services",
        "podOverrides.services.orders: there is no service orders",
    );
}

#[test]
fn image_pull_secrets_must_be_secret_names() {
    for bad in ["RegCred", "reg_cred", "-regcred", "regcred.", ""] {
        let mut stack = common::load("pods");
        stack.spec.image_pull_secrets = vec![bad.into()];
        let (cel, problems) = verdicts(&stack);
        // An empty name breaks the schema's minLength (checked by the API server, not CEL).
        if !bad.is_empty() {
            assert!(
                cel.as_ref().is_err_and(|e| e.contains("imagePullSecrets")),
                "{bad:?}: {cel:?}"
            );
        }
        assert!(
            problems.iter().any(|p| p.contains("imagePullSecrets")),
            "{bad:?}: {problems:?}"
        );
    }
    let stack = common::load("pods");
    let (cel, problems) = verdicts(&stack);
    assert!(cel.is_ok() && problems.is_empty(), "{cel:?} {problems:?}");
}

fn containers(children: &Children) -> Vec<(String, &Container)> {
    children
        .iter()
        .filter_map(|c| Some((c, pod(c)?)))
        .flat_map(|(c, pod)| {
            pod.containers
                .iter()
                .chain(pod.init_containers.iter().flatten())
                .map(move |k| (format!("{} {}: {}", c.kind(), c.name(), k.name), k))
        })
        .collect()
}

fn quantity<'a>(container: &'a Container, part: &str, resource: &str) -> Option<&'a Quantity> {
    let resources = container.resources.as_ref()?;
    let map = match part {
        "requests" => resources.requests.as_ref()?,
        _ => resources.limits.as_ref()?,
    };
    map.get(resource)
}

#[test]
fn every_container_has_cpu_and_memory_requests_and_limits_by_default() {
    // Stacks that set no resources: every container comes with the defaults, which a
    // namespace whose ResourceQuota sets limits.cpu and limits.memory admits.
    for name in ["minimal", "nats-cluster", "no-auth", "external-databases"] {
        let children = common::build(&common::load(name));
        for (what, container) in containers(&children) {
            for part in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    assert!(
                        quantity(container, part, resource).is_some(),
                        "{name}: {what} has no {part}.{resource}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_reloader_and_the_jobs_take_their_resources_from_the_spec() {
    let children = common::build(&common::load("pods"));
    let nats = pod_of(&children, "StatefulSet", "shop-nats");
    let reloader = nats
        .containers
        .iter()
        .find(|c| c.name == "reloader")
        .unwrap();
    assert_eq!(quantity(reloader, "limits", "cpu").unwrap().0, "200m");
    assert_eq!(quantity(reloader, "limits", "memory").unwrap().0, "48Mi");
    for service in ["auth", "customers"] {
        let container = &pod(job(&children, "shop", service)).unwrap().containers[0];
        assert_eq!(quantity(container, "limits", "memory").unwrap().0, "300Mi");
        assert_eq!(quantity(container, "requests", "cpu").unwrap().0, "20m");
    }
}

#[test]
fn the_mongodb_job_has_room_for_mongosh() {
    // mongosh peaked at 134 MiB running the provisioning script (see dbinit::JOB_MEMORY).
    let stack = common::load("minimal");
    let children = common::build(&stack);
    let container = &pod(job(&children, "demo", "auth")).unwrap().containers[0];
    let limit = memory_bytes(quantity(container, "limits", "memory").unwrap()).unwrap();
    assert!(
        limit >= 134 * MIB * 3 / 2,
        "{limit} leaves no headroom over 134 MiB"
    );
}

fn nats_memory_limit(stack: &MicroserviceStack) -> u64 {
    let children = common::build(stack);
    let nats = pod_of(
        &children,
        "StatefulSet",
        &format!("{}-nats", stack.metadata.name.as_ref().unwrap()),
    );
    memory_bytes(quantity(&nats.containers[0], "limits", "memory").unwrap()).unwrap()
}

#[test]
fn the_nats_memory_default_follows_the_largest_message() {
    let stack = common::load("minimal");
    assert_eq!(
        nats_memory_limit(&stack),
        128 * MIB,
        "the default body keeps 128Mi"
    );
    let mut large = stack;
    large.spec.gateway.max_body_bytes = operator::manifests::nats::MAX_BODY_LIMIT;
    let limit = nats_memory_limit(&large);
    // max_payload is then NATS's 64 MiB limit: several such messages must fit.
    assert!(limit >= 8 * 64 * MIB, "{limit}");
    // Resources given in the spec win.
    let mut given = large;
    given.spec.nats.resources = Some(k8s_openapi::api::core::v1::ResourceRequirements {
        limits: Some([("memory".to_owned(), Quantity("1Gi".into()))].into()),
        ..Default::default()
    });
    assert_eq!(nats_memory_limit(&given), 1024 * MIB);
}

#[test]
fn operator_render_shows_the_pod_settings_and_the_autoscalers() {
    use operator::render::{Values, parse, render, to_yaml};
    let text = std::fs::read_to_string(common::path("pods")).unwrap();
    let rendered = render(&parse(&text, None).unwrap(), Values::Placeholders).unwrap();
    let documents: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&to_yaml(&rendered).unwrap()).unwrap();
    let mut workloads = 0;
    for doc in &documents {
        let kind = doc["kind"].as_str().unwrap();
        let name = doc["metadata"]["name"].as_str().unwrap();
        if ["Deployment", "StatefulSet", "Job"].contains(&kind) {
            workloads += 1;
            assert_eq!(
                doc["spec"]["template"]["spec"]["imagePullSecrets"],
                serde_json::json!([{"name": "regcred"}, {"name": "mirror.example.com"}]),
                "{kind}/{name}"
            );
        }
    }
    assert_eq!(workloads, 10);
    let of = |kind: &str, name: &str| {
        documents
            .iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind}/{name} rendered"))
    };
    for name in ["shop-customers", "shop-gateway"] {
        assert!(of("HorizontalPodAutoscaler", name)["spec"]["maxReplicas"].is_i64());
        assert_eq!(
            of("Deployment", name)["spec"].get("replicas"),
            None,
            "{name}"
        );
    }
    assert_eq!(of("Deployment", "shop-products")["spec"]["replicas"], 1);
}
