//! Pure builders over the fixture stacks: names, labels, ownerReferences, order, env contract,
//! probes, security contexts, and config hashes that change exactly when config changes.
//!
//! NATS in [`nats`], the databases, their Secrets and provisioning Jobs in [`databases`].

mod databases;
mod nats;

use crate::common;
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::EnvVar;
use operator::manifests::common::{CONFIG_HASH, Ctx};
use operator::manifests::{Child, Children, connection, secrets};

use common::{container, env_map, find, pod};

fn deployment<'a>(children: &'a Children, name: &str) -> &'a Deployment {
    match find(children, "Deployment", name) {
        Child::Deployment(d) => d,
        _ => unreachable!(),
    }
}

fn literal<'a>(env: &'a BTreeMap<String, EnvVar>, name: &str) -> &'a str {
    env.get(name)
        .and_then(|e| e.value.as_deref())
        .unwrap_or_else(|| panic!("no literal {name}"))
}

/// Asserts each `(name, value)` literal of `env`.
#[track_caller]
fn assert_literals(env: &BTreeMap<String, EnvVar>, expected: &[(&str, &str)]) {
    for (name, value) in expected {
        assert_eq!(literal(env, name), *value, "{name}");
    }
}

fn secret_ref(env: &BTreeMap<String, EnvVar>, name: &str) -> (String, String) {
    let r = env[name]
        .value_from
        .as_ref()
        .and_then(|v| v.secret_key_ref.as_ref())
        .expect("secret ref");
    (r.name.clone(), r.key.clone())
}

fn hash(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .as_ref()
        .unwrap()[CONFIG_HASH]
        .clone()
}

#[test]
fn every_child_is_owned_labelled_and_well_named() {
    for name in common::VALID {
        let stack = common::load(name);
        let uid = stack.metadata.uid.clone().unwrap();
        for child in common::build(&stack).iter() {
            let meta = child.meta();
            let what = format!("{name}: {} {}", child.kind(), child.name());
            assert_eq!(meta.namespace, stack.metadata.namespace, "{what}");
            let owners = meta.owner_references.as_ref().expect("owner refs");
            assert_eq!(owners.len(), 1, "{what}");
            assert_eq!(owners[0].uid, uid, "{what}");
            assert_eq!(owners[0].kind, "MicroserviceStack", "{what}");
            assert_eq!(owners[0].controller, Some(true), "{what}");
            let labels = meta.labels.as_ref().expect("labels");
            assert_eq!(
                labels["app.kubernetes.io/managed-by"], "natstack-operator",
                "{what}"
            );
            assert_eq!(
                labels["app.kubernetes.io/instance"],
                stack.metadata.name.clone().unwrap(),
                "{what}"
            );
            assert!(labels.contains_key("app.kubernetes.io/name"), "{what}");
            let n = child.name();
            assert!(n.len() <= 63, "{what}: name too long");
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{what}: not DNS-1123"
            );
        }
    }
}

#[test]
fn minimal_stack_builds_every_child_in_dependency_order() {
    let children = common::build(&common::load("minimal"));
    let stages: Vec<&str> = children.stages.iter().map(|s| s.name).collect();
    assert_eq!(
        stages,
        ["config", "data", "services", "gateway", "monitoring"]
    );
    let listed: Vec<String> = children
        .iter()
        .map(|c| format!("{}/{}", c.kind(), c.name()))
        .collect();
    let expected = [
        "Secret/demo-auth-db-url",
        "Secret/demo-customers-db-url",
        "Secret/demo-products-db-url",
        "ConfigMap/demo-nats",
        "NetworkPolicy/demo-nats",
        "NetworkPolicy/demo-postgres",
        "NetworkPolicy/demo-mongodb",
        "NetworkPolicy/demo-auth",
        "NetworkPolicy/demo-customers",
        "NetworkPolicy/demo-products",
        "NetworkPolicy/demo-gateway",
        "Secret/demo-nats",
        "Service/demo-nats",
        "Service/demo-nats-headless",
        "StatefulSet/demo-nats",
        "Service/demo-postgres",
        "StatefulSet/demo-postgres",
        "Service/demo-mongodb",
        "StatefulSet/demo-mongodb",
        "Deployment/demo-auth",
        "Service/demo-auth",
        "Deployment/demo-customers",
        "Service/demo-customers",
        "Deployment/demo-products",
        "Service/demo-products",
        "Deployment/demo-gateway",
        "Service/demo-gateway-health",
        "Service/demo-gateway",
    ];
    let without_jobs: Vec<&str> = listed
        .iter()
        .map(String::as_str)
        .filter(|s| !s.starts_with("Job/"))
        .collect();
    assert_eq!(without_jobs, expected);
    let jobs: Vec<&str> = listed
        .iter()
        .map(String::as_str)
        .filter(|s| s.starts_with("Job/"))
        .collect();
    assert_eq!(jobs.len(), 3, "one provisioning Job per database: {jobs:?}");
    assert!(
        jobs.iter()
            .all(|j| j.starts_with("Job/demo-") && j.contains("-db-"))
    );
    // No PDBs: everything has one replica.
    assert!(children.iter().all(|c| c.kind() != "PodDisruptionBudget"));
}

#[test]
fn services_get_the_env_contract() {
    let stack = common::load("minimal");
    let children = common::build(&stack);
    let auth = env_map(container(&children, "Deployment", "demo-auth"));
    assert_literals(
        &auth,
        &[
            ("NATS_URL", "nats://demo-nats.shop.svc:4222"),
            ("NATS_USER", "auth"),
            ("RUST_LOG", "info"),
            ("LOG_FORMAT", "json"),
            ("HEALTH_ADDR", "0.0.0.0:9090"),
            (
                "JWT_PRIVATE_KEY_FILE",
                "/var/run/secrets/natstack/jwt/private.pem",
            ),
            ("JWT_ISSUER", "natstack-auth"),
            ("JWT_AUDIENCE", "natstack"),
            ("ADMIN_EMAIL", "admin@natstack.local"),
        ],
    );
    assert!(!auth.contains_key("OTEL_EXPORTER_OTLP_ENDPOINT"));
    for (name, secret, key) in [
        ("NATS_PASSWORD", "demo-nats-auth", "password"),
        ("MONGODB_URL", "demo-auth-db-url", "url"),
        ("ADMIN_PASSWORD", "demo-admin", "password"),
    ] {
        assert_eq!(
            secret_ref(&auth, name),
            (secret.into(), key.into()),
            "{name}"
        );
    }
    let auth_pod = deployment(&children, "demo-auth")
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let jwt = common::volume(auth_pod, "jwt");
    assert_eq!(
        jwt.secret.as_ref().unwrap().secret_name.as_deref(),
        Some("demo-jwt")
    );
    assert_eq!(
        container(&children, "Deployment", "demo-auth")
            .image
            .as_deref(),
        Some("ghcr.io/natstack/auth:0.1.0")
    );

    let customers = env_map(container(&children, "Deployment", "demo-customers"));
    assert_eq!(
        secret_ref(&customers, "DATABASE_URL"),
        ("demo-customers-db-url".into(), "url".into())
    );
    assert!(!customers.contains_key("MONGODB_URL") && !customers.contains_key("JWT_ISSUER"));

    let gateway = env_map(container(&children, "Deployment", "demo-gateway"));
    assert_eq!(literal(&gateway, "LISTEN_ADDR"), "0.0.0.0:8080");
    assert_eq!(literal(&gateway, "CORS_ORIGINS"), "");
    assert_eq!(
        literal(&gateway, "REQUEST_TIMEOUT_MS"),
        "5000",
        "the gateway's own default"
    );
    assert_eq!(literal(&gateway, "MAX_BODY_BYTES"), "1048576");
    assert_eq!(
        literal(&gateway, "API_DOCS"),
        "on",
        "the API page is on by default"
    );
    assert_eq!(literal(&gateway, "NATS_USER"), "gateway");
    assert_eq!(
        literal(&gateway, "RATE_LIMITS"),
        contract::deploy::DEFAULT_RATE_LIMITS,
        "the gateway's own default"
    );
    assert_eq!(literal(&gateway, "TRUSTED_PROXIES"), "");
    assert_eq!(literal(&gateway, "OPS_ENDPOINTS"), "health");

    for (secret, url) in [
        (
            "demo-customers-db-url",
            "postgres://customers:demo-customers-db-password@demo-postgres.shop.svc:5432/customers",
        ),
        (
            "demo-auth-db-url",
            "mongodb://auth:demo-auth-db-password@demo-mongodb.shop.svc:27017/auth?authSource=auth",
        ),
    ] {
        let Child::Secret(s) = find(&children, "Secret", secret) else {
            unreachable!("{secret} is a Secret")
        };
        assert_eq!(operator::generate::decode(s)["url"], url, "{secret}");
    }
}

#[test]
fn auth_and_gateway_agree_on_issuer_and_audience() {
    for name in common::VALID {
        let mut stack = common::load(name);
        stack.spec.auth.issuer = format!("issuer-of-{name}");
        stack.spec.auth.audience = format!("audience-of-{name}");
        let children = common::build(&stack);
        let has_auth = stack.spec.services.iter().any(|s| s.name == "auth");
        let prefix = stack.metadata.name.as_deref().unwrap();
        let gateway = env_map(container(
            &children,
            "Deployment",
            &format!("{prefix}-gateway"),
        ));
        assert_eq!(literal(&gateway, "JWT_ISSUER"), format!("issuer-of-{name}"));
        assert_eq!(
            literal(&gateway, "JWT_AUDIENCE"),
            format!("audience-of-{name}")
        );
        if has_auth {
            let auth = env_map(container(
                &children,
                "Deployment",
                &format!("{prefix}-auth"),
            ));
            for var in ["JWT_ISSUER", "JWT_AUDIENCE"] {
                assert_eq!(literal(&auth, var), literal(&gateway, var), "{name}: {var}");
            }
        }
    }
}

#[test]
fn spec_settings_reach_the_pods() {
    let children = common::build(&common::load("three-services"));
    let gateway = env_map(container(&children, "Deployment", "shop-gateway"));
    assert_literals(
        &gateway,
        &[
            (
                "CORS_ORIGINS",
                "https://shop.example.com,https://admin.example.com",
            ),
            ("REQUEST_TIMEOUT_MS", "5000"),
            ("MAX_BODY_BYTES", "2097152"),
            ("API_DOCS", "off"),
            ("RATE_LIMITS", "auth=5/s:burst 10,write=20/s,read=off"),
            ("TRUSTED_PROXIES", "10.244.0.0/16,192.168.1.10"),
            ("OPS_ENDPOINTS", "admin"),
            ("LOG_FORMAT", "pretty"),
            ("RUST_LOG", "debug,kube=info"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://otel-collector.observability:4318",
            ),
        ],
    );
    let customers = deployment(&children, "shop-customers");
    let env = env_map(container(&children, "Deployment", "shop-customers"));
    assert_eq!(literal(&env, "FEATURE_X"), "on");
    assert_eq!(
        literal(&env, "NATS_URL"),
        "nats://shop-nats.prod.svc:4222",
        "user env cannot override"
    );
    assert_eq!(customers.spec.as_ref().unwrap().replicas, Some(3));
    assert_eq!(
        container(&children, "Deployment", "shop-customers")
            .image
            .as_deref(),
        Some("registry.example.com/natstack/customers:1.2.3")
    );
    let products = container(&children, "Deployment", "shop-products");
    assert_eq!(
        products.image.as_deref(),
        Some("registry.example.com/custom/products:9.9.9")
    );
    assert_eq!(
        products
            .resources
            .as_ref()
            .unwrap()
            .requests
            .as_ref()
            .unwrap()["cpu"]
            .0,
        "200m"
    );
    let pdbs = common::names_of(&children, "PodDisruptionBudget");
    assert_eq!(pdbs, ["shop-auth", "shop-customers", "shop-gateway"]);
    for pdb in children.iter().filter_map(|c| match c {
        Child::Pdb(pdb) => Some(pdb),
        _ => None,
    }) {
        // A crash-looping replica must not block node drains.
        let policy = pdb
            .spec
            .as_ref()
            .unwrap()
            .unhealthy_pod_eviction_policy
            .as_deref();
        assert_eq!(policy, Some("AlwaysAllow"));
    }
    let Child::Service(svc) = find(&children, "Service", "shop-gateway") else {
        unreachable!()
    };
    let spec = svc.spec.as_ref().unwrap();
    assert_eq!(spec.type_.as_deref(), Some("NodePort"));
    assert_eq!(spec.ports.as_ref().unwrap()[0].node_port, Some(30080));
}

#[test]
fn every_pod_is_restricted_with_probes_and_resources() {
    for name in common::VALID {
        let children = common::build(&common::load(name));
        for child in children.iter() {
            let Some(pod) = pod(child) else { continue };
            let what = format!("{name}: {}", child.name());
            let psc = pod.security_context.as_ref().expect("pod security context");
            assert_eq!(psc.run_as_non_root, Some(true), "{what}");
            assert_eq!(
                psc.fs_group_change_policy.as_deref(),
                Some("OnRootMismatch"),
                "{what}: no walk over the whole volume on every start"
            );
            assert_eq!(
                psc.seccomp_profile.as_ref().unwrap().type_,
                "RuntimeDefault",
                "{what}"
            );
            for c in &pod.containers {
                let sc = c
                    .security_context
                    .as_ref()
                    .expect("container security context");
                assert_eq!(sc.allow_privilege_escalation, Some(false), "{what}");
                assert_eq!(sc.read_only_root_filesystem, Some(true), "{what}");
                assert_eq!(
                    sc.capabilities.as_ref().unwrap().drop.as_deref(),
                    Some(&["ALL".to_owned()][..]),
                    "{what}"
                );
                assert!(
                    c.resources
                        .as_ref()
                        .and_then(|r| r.requests.as_ref())
                        .is_some(),
                    "{what}"
                );
                // The reloader sidecar serves nothing a probe could ask.
                if child.kind() != "Job" && c.name != "reloader" {
                    assert!(
                        c.liveness_probe.is_some() && c.readiness_probe.is_some(),
                        "{what}"
                    );
                }
            }
            if child.kind() == "Deployment" {
                let probe = pod.containers[0]
                    .readiness_probe
                    .as_ref()
                    .unwrap()
                    .http_get
                    .as_ref()
                    .unwrap();
                assert_eq!(probe.path.as_deref(), Some("/readyz"), "{what}");
                // A slow readiness check must answer 503 naming itself before the probe
                // gives up on the answer.
                let timeout = pod.containers[0]
                    .readiness_probe
                    .as_ref()
                    .unwrap()
                    .timeout_seconds;
                assert!(
                    i64::from(timeout.unwrap()) * 1000
                        > i64::try_from(contract::deploy::READINESS_CHECK_TIMEOUT_MS).unwrap(),
                    "{what}"
                );
                assert_eq!(
                    probe.port,
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(9090),
                    "{what}"
                );
            }
        }
    }
}

#[test]
fn stopping_pods_drain_and_databases_get_time_to_shut_down() {
    let children = common::build(&common::load("minimal"));
    let gateway = container(&children, "Deployment", "demo-gateway");
    let sleep = gateway
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
        .and_then(|h| h.sleep.as_ref())
        .expect("the gateway sleeps before SIGTERM");
    assert_eq!(
        sleep.seconds,
        operator::manifests::gateway::DRAIN_DELAY_SECS
    );
    let services = container(&children, "Deployment", "demo-customers");
    assert_eq!(
        services.lifecycle, None,
        "services take no traffic from endpoints"
    );
    for db in ["demo-postgres", "demo-mongodb"] {
        let pod = pod(find(&children, "StatefulSet", db)).unwrap();
        assert_eq!(
            pod.termination_grace_period_seconds,
            Some(operator::manifests::database::TERMINATION_GRACE_SECS),
            "{db}"
        );
    }
}

#[test]
fn building_is_deterministic() {
    for name in common::VALID {
        let stack = common::load(name);
        assert_eq!(common::build(&stack), common::build(&stack), "{name}");
    }
}

#[test]
fn config_hash_changes_exactly_when_config_changes() {
    let stack = common::load("minimal");
    let before = common::build(&stack);
    let hashes = |c: &Children| -> BTreeMap<String, String> {
        c.iter()
            .filter_map(|ch| match ch {
                Child::Deployment(d) => Some((ch.name().to_owned(), hash(d))),
                _ => None,
            })
            .collect()
    };
    // Scaling is not config: no hash moves.
    let mut scaled = stack.clone();
    scaled.spec.gateway.replicas = 3;
    scaled.spec.services[1].replicas = 2;
    assert_eq!(hashes(&before), hashes(&common::build(&scaled)));
    // A shared setting moves every hash.
    let mut verbose = stack.clone();
    verbose.spec.log_level = "debug".into();
    let after = hashes(&common::build(&verbose));
    for (name, h) in hashes(&before) {
        assert_ne!(after[&name], h, "{name}");
    }
    // A rotated Secret moves only the hash of the pods that use it.
    let mut data = common::secret_data(&stack);
    data.get_mut("demo-customers-db")
        .unwrap()
        .insert("password".into(), "rotated".into());
    let rotated = hashes(&operator::manifests::build(&stack, &data).unwrap());
    let old = hashes(&before);
    assert_ne!(rotated["demo-customers"], old["demo-customers"]);
    assert_eq!(rotated["demo-products"], old["demo-products"]);
    assert_eq!(rotated["demo-gateway"], old["demo-gateway"]);
    // A gateway-only setting moves only the gateway.
    let mut cors = stack;
    cors.spec.gateway.cors_origins = vec!["https://x.example".into()];
    let cors = hashes(&common::build(&cors));
    assert_ne!(cors["demo-gateway"], old["demo-gateway"]);
    assert_eq!(cors["demo-auth"], old["demo-auth"]);
}
