//! What reaches what: per-component NetworkPolicies, the gateway's public and internal
//! Services, spreading replicated pods over nodes, auth's hashing bound from its memory limit,
//! and defaults that follow the operator rather than being baked into the CRD.

use crate::common;
use std::collections::BTreeMap;

use contract::deploy::AUTH_BASE_MEMORY_BYTES as AUTH_BASE_MEMORY;
use k8s_openapi::api::core::v1::{
    ContainerPort, PodTemplateSpec, ResourceRequirements, Service, ServiceSpec,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use operator::crd::{MicroserviceStack, OPERATOR_VERSION};
use operator::manifests::pods::memory_bytes;
use operator::manifests::services::argon2_slots;
use operator::manifests::{Child, Children};

type Labels = BTreeMap<String, String>;

/// Whether `selector` selects an object labelled `labels` (matchLabels and `In`/`NotIn`/
/// `Exists`/`DoesNotExist` expressions, as the apiserver evaluates them).
fn selects(selector: &LabelSelector, labels: &Labels) -> bool {
    let by_labels = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let by_expressions = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.clone().unwrap_or_default();
        match e.operator.as_str() {
            "In" => labels.get(&e.key).is_some_and(|v| values.contains(v)),
            "NotIn" => labels.get(&e.key).is_none_or(|v| !values.contains(v)),
            "Exists" => labels.contains_key(&e.key),
            "DoesNotExist" => !labels.contains_key(&e.key),
            other => panic!("unknown operator {other}"),
        }
    });
    by_labels && by_expressions
}

/// Every pod template of the stack, with the kind and name of its workload.
fn pods(children: &Children) -> Vec<(String, &PodTemplateSpec)> {
    children
        .iter()
        .filter_map(|c| Some((format!("{}/{}", c.kind(), c.name()), c.pod_template()?)))
        .collect()
}

fn pod_labels(template: &PodTemplateSpec) -> Labels {
    template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

fn policies(children: &Children) -> Vec<&NetworkPolicy> {
    children
        .iter()
        .filter_map(|c| match c {
            Child::NetworkPolicy(p) => Some(p),
            _ => None,
        })
        .collect()
}

fn policy<'a>(children: &'a Children, name: &str) -> &'a NetworkPolicy {
    policies(children)
        .into_iter()
        .find(|p| p.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no NetworkPolicy {name}"))
}

/// Whether `policy` admits a TCP connection to `port` from a pod labelled `from`.
fn admits(policy: &NetworkPolicy, port: i32, from: &Labels) -> bool {
    let spec = policy.spec.as_ref().unwrap();
    spec.ingress.iter().flatten().any(|rule| {
        let port_ok = rule
            .ports
            .iter()
            .flatten()
            .any(|p| p.port == Some(IntOrString::Int(port)));
        let peer_ok = match &rule.from {
            None => true,
            Some(peers) => peers.iter().any(|peer| {
                peer.namespace_selector.is_none()
                    && peer.ip_block.is_none()
                    && peer.pod_selector.as_ref().is_some_and(|s| selects(s, from))
            }),
        };
        port_ok && peer_ok
    })
}

/// Whether `policy` admits `port` from any source at all.
fn open_to_all(policy: &NetworkPolicy, port: i32) -> bool {
    let spec = policy.spec.as_ref().unwrap();
    spec.ingress.iter().flatten().any(|rule| {
        rule.from.is_none()
            && rule
                .ports
                .iter()
                .flatten()
                .any(|p| p.port == Some(IntOrString::Int(port)))
    })
}

/// Ports a policy opens, whoever may use them.
fn opened_ports(policy: &NetworkPolicy) -> Vec<i32> {
    let mut ports: Vec<i32> = policy
        .spec
        .as_ref()
        .unwrap()
        .ingress
        .iter()
        .flatten()
        .flat_map(|r| r.ports.iter().flatten())
        .filter_map(|p| match p.port {
            Some(IntOrString::Int(n)) => Some(n),
            _ => None,
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

fn container_port(template: &PodTemplateSpec, name: &str) -> i32 {
    let ports: Vec<&ContainerPort> = template
        .spec
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .collect();
    ports
        .iter()
        .find(|p| p.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no container port {name}"))
        .container_port
}

fn labels_of(children: &Children, workload: &str) -> Labels {
    let (_, template) = pods(children)
        .into_iter()
        .find(|(w, _)| w == workload)
        .unwrap_or_else(|| panic!("no workload {workload}"));
    pod_labels(template)
}

fn all_stacks() -> Vec<(String, MicroserviceStack)> {
    common::VALID
        .iter()
        .map(|f| ((*f).to_owned(), common::load(f)))
        .chain(common::examples())
        .collect()
}

#[test]
fn every_pod_is_selected_by_exactly_one_ingress_policy() {
    for (name, stack) in all_stacks() {
        let children = common::build(&stack);
        let policies = policies(&children);
        for policy in &policies {
            let spec = policy.spec.as_ref().unwrap();
            assert_eq!(
                spec.policy_types.as_deref(),
                Some(&["Ingress".to_owned()][..])
            );
            assert!(spec.egress.is_none(), "{name}: egress stays open");
        }
        for (workload, template) in pods(&children) {
            if workload.starts_with("Job/") {
                continue; // Jobs open no port and accept nothing.
            }
            let labels = pod_labels(template);
            let selecting: Vec<&str> = policies
                .iter()
                .filter(|p| {
                    selects(
                        p.spec.as_ref().unwrap().pod_selector.as_ref().unwrap(),
                        &labels,
                    )
                })
                .map(|p| p.metadata.name.as_deref().unwrap())
                .collect();
            assert_eq!(
                selecting.len(),
                1,
                "{name}: {workload} is selected by {selecting:?}"
            );
        }
    }
}

#[test]
fn nats_accepts_only_the_stacks_components_and_routes_from_its_peers() {
    let children = common::build(&common::load("nats-cluster"));
    let stack = common::load("nats-cluster");
    let prefix = stack.metadata.name.clone().unwrap();
    let nats = policy(&children, &format!("{prefix}-nats"));
    let sts = pods(&children)
        .into_iter()
        .find(|(w, _)| *w == format!("StatefulSet/{prefix}-nats"))
        .unwrap()
        .1;
    let client = container_port(sts, "client");
    let route = container_port(sts, "cluster");
    let nats_pod = pod_labels(sts);
    let mut clients = vec![labels_of(
        &children,
        &format!("Deployment/{prefix}-gateway"),
    )];
    for service in &stack.spec.services {
        clients.push(labels_of(
            &children,
            &format!("Deployment/{prefix}-{}", service.name),
        ));
    }
    for labels in &clients {
        assert!(
            admits(nats, client, labels),
            "client port refuses {labels:?}"
        );
        assert!(
            !admits(nats, route, labels),
            "route port admits a client {labels:?}"
        );
    }
    assert!(admits(nats, route, &nats_pod), "peers route to each other");
    // Anything else is refused: a database pod, the same component of another stack, a stranger.
    let mut other_stack = clients[0].clone();
    other_stack.insert("app.kubernetes.io/instance".into(), "someone-else".into());
    let postgres = labels_of(&children, &format!("StatefulSet/{prefix}-postgres"));
    for stranger in [other_stack, postgres, Labels::new()] {
        assert!(!admits(nats, client, &stranger), "{stranger:?}");
        assert!(!admits(nats, route, &stranger), "{stranger:?}");
    }
    let monitor = container_port(sts, "monitor");
    assert_eq!(opened_ports(nats), {
        let mut p = vec![client, route];
        p.sort_unstable();
        p
    });
    assert!(
        !opened_ports(nats).contains(&monitor),
        "kubelet probes need no rule"
    );
}

#[test]
fn databases_accept_only_their_services_and_provisioning_jobs() {
    for fixture in ["minimal", "three-services"] {
        let stack = common::load(fixture);
        let children = common::build(&stack);
        let prefix = stack.metadata.name.clone().unwrap();
        for (db, port, kind) in [
            ("postgres", 5432, "postgres"),
            ("mongodb", 27017, "mongodb"),
        ] {
            let policy = policy(&children, &format!("{prefix}-{db}"));
            assert_eq!(opened_ports(policy), [port]);
            for (workload, template) in pods(&children) {
                let labels = pod_labels(template);
                let component = labels["app.kubernetes.io/name"].clone();
                let service = component.strip_suffix("-db-init").unwrap_or(&component);
                let uses = stack.spec.services.iter().any(|s| {
                    s.name == service
                        && serde_json::to_value(s.database).unwrap() == serde_json::json!(kind)
                });
                assert_eq!(
                    admits(policy, port, &labels),
                    uses,
                    "{fixture}: {db} and {workload}"
                );
            }
            // Every provisioning Job of this database's services gets in.
            let jobs = pods(&children)
                .into_iter()
                .filter(|(w, t)| {
                    w.starts_with("Job/")
                        && stack.spec.services.iter().any(|s| {
                            pod_labels(t)["app.kubernetes.io/name"] == format!("{}-db-init", s.name)
                                && serde_json::to_value(s.database).unwrap()
                                    == serde_json::json!(kind)
                        })
                })
                .count();
            assert!(jobs > 0, "{fixture}: {db} has provisioning Jobs");
        }
    }
}

#[test]
fn external_databases_get_no_policy_and_unused_ones_admit_nobody() {
    let children = common::build(&common::load("external-databases"));
    let names: Vec<&str> = policies(&children)
        .iter()
        .map(|p| p.metadata.name.as_deref().unwrap())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with("-postgres") || n.ends_with("-mongodb")),
        "{names:?}"
    );

    let mut stack = common::load("minimal");
    stack.spec.services.retain(|s| s.name != "auth");
    let children = common::build(&stack);
    assert!(common::ingress(&children, "demo-mongodb").is_empty());
}

#[test]
fn services_open_only_their_health_port_and_the_gateway_also_http() {
    let stack = common::load("three-services");
    let children = common::build(&stack);
    for service in &stack.spec.services {
        let p = policy(&children, &format!("shop-{}", service.name));
        assert_eq!(opened_ports(p), [9090], "{}", service.name);
        assert!(
            open_to_all(p, 9090),
            "probes and scrapes reach the health port"
        );
    }
    let gateway = policy(&children, "shop-gateway");
    assert_eq!(opened_ports(gateway), [8080, 9090]);
    assert!(open_to_all(gateway, 8080), "HTTP from anywhere");
}

fn service<'a>(children: &'a Children, name: &str) -> &'a Service {
    match children
        .iter()
        .find(|c| c.kind() == "Service" && c.name() == name)
    {
        Some(Child::Service(s)) => s,
        _ => panic!("no Service {name}"),
    }
}

#[test]
fn the_public_gateway_service_carries_only_http() {
    for (fixture, prefix, kind) in [
        ("three-services", "shop", "NodePort"),
        ("minimal", "demo", "ClusterIP"),
    ] {
        let children = common::build(&common::load(fixture));
        let spec = |name: String| service(&children, &name).spec.as_ref().unwrap();
        let ports = |spec: &ServiceSpec| -> Vec<(Option<String>, i32)> {
            let ports = spec.ports.iter().flatten();
            ports.map(|p| (p.name.clone(), p.port)).collect()
        };
        let public = spec(format!("{prefix}-gateway"));
        assert_eq!(public.type_.as_deref(), Some(kind));
        assert_eq!(
            ports(public),
            [(Some("http".to_owned()), 80)],
            "{fixture}: /metrics stays off the public Service"
        );
        let internal = spec(format!("{prefix}-gateway-health"));
        assert_eq!(internal.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(ports(internal), [(Some("health".to_owned()), 9090)]);
        assert_eq!(internal.selector, public.selector);
    }
}

#[test]
fn replicated_deployments_spread_over_nodes() {
    let children = common::build(&common::load("three-services"));
    for (workload, template) in pods(&children) {
        if !workload.starts_with("Deployment/") {
            continue;
        }
        let spec = template.spec.as_ref().unwrap();
        let constraints = spec.topology_spread_constraints.as_ref().expect(&workload);
        assert_eq!(constraints.len(), 1, "{workload}");
        let c = &constraints[0];
        assert_eq!(c.topology_key, "kubernetes.io/hostname");
        assert_eq!(c.when_unsatisfiable, "ScheduleAnyway", "{workload}: soft");
        assert_eq!(c.max_skew, 1);
        let labels = pod_labels(template);
        assert!(
            selects(c.label_selector.as_ref().unwrap(), &labels),
            "{workload}"
        );
        let mut other = labels.clone();
        other.insert("app.kubernetes.io/name".into(), "someone-else".into());
        assert!(
            !selects(c.label_selector.as_ref().unwrap(), &other),
            "{workload}"
        );
    }
}

/// The env of `component`'s Deployment that is set to literal values, by name.
fn literal_env(stack: &MicroserviceStack, component: &str) -> BTreeMap<String, String> {
    let children = common::build(stack);
    let name = format!("{}-{component}", stack.metadata.name.as_deref().unwrap());
    common::env_map(common::container(&children, "Deployment", &name))
        .into_iter()
        .filter_map(|(k, e)| Some((k, e.value?)))
        .collect()
}

fn with_auth(stack: &mut MicroserviceStack, limit: Option<&str>, env: &[(&str, &str)]) {
    let auth = common::service_mut(stack, "auth");
    auth.resources = Some(ResourceRequirements {
        requests: Some([("memory".to_owned(), Quantity("64Mi".into()))].into()),
        limits: limit.map(|l| [("memory".to_owned(), Quantity(l.into()))].into()),
        ..ResourceRequirements::default()
    });
    auth.env = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
}

#[test]
fn auth_hashing_slots_fit_its_memory_limit() {
    const MIB: u64 = 1024 * 1024;
    // The default 128Mi: (128 - 48) MiB / 19 MiB per hash.
    let minimal = common::load("minimal");
    assert_eq!(literal_env(&minimal, "auth")["ARGON2_MAX_CONCURRENT"], "4");
    let slots: u64 = 4;
    assert!(AUTH_BASE_MEMORY + slots * 19_456 * 1024 <= 128 * MIB);

    type Case<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], Option<&'a str>);
    let cases: [Case<'_>; 5] = [
        (Some("512Mi"), &[], Some("24")),
        (Some("512Mi"), &[("ARGON2_MEMORY_KIB", "65536")], Some("7")),
        (Some("64Mi"), &[], Some("1")),
        (Some("1Gi"), &[("ARGON2_MAX_CONCURRENT", "2")], Some("2")),
        (None, &[], None),
    ];
    for (limit, env, want) in cases {
        let mut stack = common::load("minimal");
        with_auth(&mut stack, limit, env);
        let got = literal_env(&stack, "auth");
        assert_eq!(
            got.get("ARGON2_MAX_CONCURRENT").map(String::as_str),
            want,
            "{limit:?} {env:?}"
        );
    }
    // Only auth hashes passwords.
    let children = common::build(&minimal);
    for child in children.iter() {
        if let Child::Deployment(_) = child
            && child.name() != "demo-auth"
        {
            let c = &common::pod(child).unwrap().containers[0];
            assert!(
                c.env
                    .iter()
                    .flatten()
                    .all(|e| e.name != "ARGON2_MAX_CONCURRENT")
            );
        }
    }
    assert_eq!(argon2_slots(0, 19_456), 1);
}

#[test]
fn memory_quantities_parse_like_kubernetes() {
    let q = |s: &str| memory_bytes(&Quantity(s.into()));
    assert_eq!(q("128Mi"), Some(128 * 1024 * 1024));
    assert_eq!(q("1Gi"), Some(1 << 30));
    assert_eq!(q("1.5Gi"), Some(3 << 29));
    assert_eq!(q("500M"), Some(500_000_000));
    assert_eq!(q("134217728"), Some(134_217_728));
    assert_eq!(q("1e9"), Some(1_000_000_000));
    assert_eq!(q("64k"), Some(64_000));
    assert_eq!(q("lots"), None);
    assert_eq!(q("12Zi"), None);
}

#[test]
fn built_in_images_follow_the_operator_unless_pinned() {
    let children = common::build(&common::load("minimal"));
    let images: Vec<String> = pods(&children)
        .iter()
        .flat_map(|(_, t)| t.spec.as_ref().unwrap().containers.iter())
        .filter_map(|c| c.image.clone())
        .filter(|i| i.starts_with("ghcr.io/natstack/"))
        .collect();
    assert!(images.len() >= 4, "{images:?}");
    for image in &images {
        assert!(image.ends_with(&format!(":{OPERATOR_VERSION}")), "{image}");
    }
    // An empty spec stays empty: nothing is written back into a stored stack.
    let stack: MicroserviceStack = serde_json::from_value(serde_json::json!({
        "apiVersion": "natstack.dev/v1alpha1", "kind": "MicroserviceStack",
        "metadata": {"name": "x"}, "spec": {}
    }))
    .unwrap();
    assert_eq!(stack.spec.version, None);
    assert!(
        serde_json::to_value(&stack.spec)
            .unwrap()
            .get("version")
            .is_none()
    );
    // Pinned: three-services sets version 1.2.3.
    let children = common::build(&common::load("three-services"));
    assert!(pods(&children).iter().any(|(_, t)| {
        t.spec.as_ref().unwrap().containers[0].image.as_deref()
            == Some("registry.example.com/natstack/customers:1.2.3")
    }));
}

fn crd_schema() -> serde_json::Value {
    use kube::CustomResourceExt as _;
    let crd = serde_json::to_value(MicroserviceStack::crd()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

#[test]
fn the_crd_bakes_no_version_and_defaults_the_timeout_like_the_gateway() {
    let spec = &crd_schema()["properties"]["spec"]["properties"];
    assert!(spec["version"].is_object());
    assert!(
        spec["version"].get("default").is_none(),
        "a schema default is stored in every stack and never moves: {}",
        spec["version"]
    );
    assert_eq!(
        spec["gateway"]["properties"]["requestTimeoutMs"]["default"],
        5000
    );
    let stack = common::load("minimal");
    assert_eq!(stack.spec.gateway.request_timeout_ms, 5000);
    // Image defaults that would freeze a stack at one release are not in the schema either.
    let gateway_image = &spec["gateway"]["properties"]["image"];
    assert!(gateway_image.is_object() && gateway_image.get("default").is_none());
}

#[test]
fn gateway_connections_and_body_budget_fit_its_memory_limit() {
    const MIB: u64 = 1024 * 1024;
    // The default 128Mi: (128 - 32) MiB less twice a 12 MiB budget, at 48 KiB a connection.
    let minimal = common::load("minimal");
    let env = literal_env(&minimal, "gateway");
    assert_eq!(env["MAX_CONNECTIONS"], "1536");
    assert_eq!(env["BODY_BUDGET_BYTES"], (12 * MIB).to_string());
    assert!(
        !env.contains_key("MAX_CONNECTIONS_PER_ADDRESS"),
        "the gateway's own default"
    );

    let limited = |limit: Option<&str>| {
        let mut stack = common::load("minimal");
        stack.spec.gateway.resources = Some(ResourceRequirements {
            requests: Some([("memory".to_owned(), Quantity("64Mi".into()))].into()),
            limits: limit.map(|l| [("memory".to_owned(), Quantity(l.into()))].into()),
            ..ResourceRequirements::default()
        });
        stack
    };
    let big = literal_env(&limited(Some("1Gi")), "gateway");
    assert_eq!(big["MAX_CONNECTIONS"], "15872");
    assert_eq!(big["BODY_BUDGET_BYTES"], (124 * MIB).to_string());
    let unlimited = literal_env(&limited(None), "gateway");
    assert!(
        !unlimited.contains_key("MAX_CONNECTIONS") && !unlimited.contains_key("BODY_BUDGET_BYTES")
    );

    // What the stack sets wins; the budget always holds the largest body.
    let mut set = limited(Some("128Mi"));
    set.spec.gateway.max_connections = Some(300);
    set.spec.gateway.max_connections_per_address = Some(8);
    set.spec.gateway.max_body_bytes = 32 * 1024 * 1024;
    let env = literal_env(&set, "gateway");
    assert_eq!(env["MAX_CONNECTIONS"], "300");
    assert_eq!(env["MAX_CONNECTIONS_PER_ADDRESS"], "8");
    assert_eq!(env["BODY_BUDGET_BYTES"], (32 * MIB).to_string());
    set.spec.gateway.body_budget_bytes = Some(4096);
    assert_eq!(literal_env(&set, "gateway")["BODY_BUDGET_BYTES"], "4096");
}
