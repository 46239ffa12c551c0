//! Helpers shared by the operator's integration tests: fixture loading and deterministic
//! Secret data.
#![allow(dead_code)]

pub mod paths;

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, Volume};
use operator::crd::MicroserviceStack;
use operator::manifests::common::Ctx;
use operator::manifests::secrets::{self, Generator};
use operator::manifests::{self, Child, Children, SecretData};

/// Names of the valid fixture stacks.
pub const VALID: [&str; 8] = [
    "engines",
    "minimal",
    "monitoring",
    "three-services",
    "external-databases",
    "nats-cluster",
    "no-auth",
    "paused",
];
/// Names of the invalid fixture stacks.
pub const INVALID: [&str; 17] = [
    "invalid/provider-external",
    "invalid/provider-swapped",
    "invalid/provider-fields",
    "invalid/sampling",
    "invalid/monitoring-labels",
    "invalid/monitoring-interval",
    "invalid/duplicate-names",
    "invalid/nats-replicas",
    "invalid/database-disabled",
    "invalid/node-port-cluster-ip",
    "invalid/reserved-name",
    "invalid/long-name",
    "invalid/dotted-name",
    "invalid/digit-name",
    "invalid/rate-limits",
    "invalid/trusted-proxies",
    "invalid/events-retention",
];
/// Invalid fixtures whose broken invariant is on `metadata.name`.
pub const INVALID_NAMES: [&str; 3] = [
    "invalid/long-name",
    "invalid/dotted-name",
    "invalid/digit-name",
];

/// Path of a fixture file.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.yaml"))
}

/// Loads `tests/fixtures/<name>.yaml`.
pub fn load(name: &str) -> MicroserviceStack {
    let text = std::fs::read_to_string(path(name)).expect("fixture exists");
    serde_saphyr::from_str(&text).expect("fixture deserializes")
}

/// The raw JSON of a fixture (as a user would submit it, without serde defaults).
pub fn raw(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(path(name)).expect("fixture exists");
    serde_saphyr::from_str(&text).expect("fixture parses")
}

/// Deterministic data for every Secret the stack reads.
pub fn secret_data(stack: &MicroserviceStack) -> SecretData {
    let ctx = Ctx::new(stack).expect("stack has name, namespace and uid");
    let mut out = SecretData::new();
    for generated in secrets::generated(&ctx) {
        let values = generated
            .keys
            .iter()
            .map(|(k, g)| {
                let v = match g {
                    Generator::Literal(v) => v.clone(),
                    Generator::Password => format!("{}-{k}", generated.name()),
                    Generator::Ed25519Pem => "-----BEGIN PRIVATE KEY-----".to_owned(),
                };
                (k.clone(), v)
            })
            .collect();
        out.insert(generated.name().to_owned(), values);
    }
    let external = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    out.insert(
        "pg-admin".into(),
        external(&[
            ("host", "pg.example.com"),
            ("port", "6432"),
            ("username", "admin"),
            ("password", "pgpw"),
        ]),
    );
    out.insert(
        "mongo-admin".into(),
        external(&[
            ("host", "mongo.example.com"),
            ("username", "root"),
            ("password", "mpw"),
        ]),
    );
    out.insert("shop-admin".into(), external(&[("password", "adminpw")]));
    for name in secrets::referenced(&stack.spec) {
        out.entry(name).or_insert_with(|| {
            external(&[
                ("host", "db.example.com"),
                ("username", "admin"),
                ("password", "pw"),
            ])
        });
    }
    out
}

/// The `MicroserviceStack` documents of `examples/*.yaml`, named `<file>/<stack>`, placed in
/// namespace `examples` with a uid as the apiserver would.
pub fn examples() -> Vec<(String, MicroserviceStack)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("example readable");
        let documents: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(&text).expect("example parses");
        for value in documents {
            if value["kind"] != "MicroserviceStack" {
                continue;
            }
            let mut stack: MicroserviceStack =
                serde_json::from_value(value).expect("example is a stack");
            stack.metadata.namespace = Some("examples".into());
            stack.metadata.uid = Some("0b5e1c1e-0000-4000-8000-0000000000ee".into());
            let file_name = file
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            out.push((format!("example-{file_name}"), stack));
        }
    }
    out
}

/// Builds every child of a fixture.
pub fn build(stack: &MicroserviceStack) -> Children {
    manifests::build(stack, &secret_data(stack)).expect("builds")
}

/// The object of `kind` named `name`; panics naming it when there is none.
pub fn find<'a>(children: &'a Children, kind: &str, name: &str) -> &'a Child {
    children
        .find(kind, name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// The names of the children of `kind`, in build order.
pub fn names_of<'a>(children: &'a Children, kind: &str) -> Vec<&'a str> {
    children
        .iter()
        .filter(|c| c.kind() == kind)
        .map(Child::name)
        .collect()
}

/// The pod spec of a workload child.
pub fn pod(child: &Child) -> Option<&PodSpec> {
    child.pod_template()?.spec.as_ref()
}

/// The pod's volume `name`; panics naming it when there is none.
pub fn volume<'a>(pod: &'a PodSpec, name: &str) -> &'a Volume {
    pod.volumes
        .iter()
        .flatten()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no volume {name}"))
}

/// The first container of the workload `kind`/`name`.
pub fn container<'a>(children: &'a Children, kind: &str, name: &str) -> &'a Container {
    &pod(find(children, kind, name))
        .unwrap_or_else(|| panic!("{kind} {name} has no pod spec"))
        .containers[0]
}

/// A container's env by name.
pub fn env_map(c: &Container) -> BTreeMap<String, EnvVar> {
    c.env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.clone()))
        .collect()
}

/// The service `name` of `stack`, to edit (panics when the stack has none).
pub fn service_mut<'a>(
    stack: &'a mut MicroserviceStack,
    name: &str,
) -> &'a mut operator::crd::ServiceSpec {
    stack
        .spec
        .services
        .iter_mut()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no service {name}"))
}

/// `(status, reason, message)` of condition `kind` of `stack`'s status.
pub fn condition(stack: &MicroserviceStack, kind: &str) -> (String, String, String) {
    let c = stack
        .status
        .as_ref()
        .expect("status")
        .conditions
        .iter()
        .find(|c| c.type_ == kind)
        .unwrap_or_else(|| panic!("no {kind} condition"));
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

/// `s` in standard base64, as a Secret's `data` holds it.
pub fn base64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Asserts that condition `kind` of `stack` has `status` for `reason`, and returns its message
/// for the caller's own checks.
#[track_caller]
pub fn assert_condition(
    stack: &MicroserviceStack,
    kind: &str,
    status: &str,
    reason: &str,
) -> String {
    let (actual, why, message) = condition(stack, kind);
    assert_eq!(
        (actual.as_str(), why.as_str()),
        (status, reason),
        "{kind}: {message}"
    );
    message
}

/// Asserts that `text` mentions every one of `parts`, naming the one it lacks.
#[track_caller]
pub fn assert_mentions(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part} missing from: {text}");
    }
}

/// The ingress rules of NetworkPolicy `name` among `children`.
pub fn ingress(
    children: &Children,
    name: &str,
) -> Vec<k8s_openapi::api::networking::v1::NetworkPolicyIngressRule> {
    let Child::NetworkPolicy(policy) = find(children, "NetworkPolicy", name) else {
        panic!("{name} is not a NetworkPolicy");
    };
    policy
        .spec
        .as_ref()
        .and_then(|s| s.ingress.clone())
        .unwrap_or_default()
}
