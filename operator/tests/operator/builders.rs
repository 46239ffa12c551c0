//! Pure builders over the fixture stacks: names, labels, ownerReferences, order, env contract,
//! probes, security contexts, and config hashes that change exactly when config changes.

use crate::common;
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::EnvVar;
use operator::manifests::common::{CONFIG_HASH, Ctx};
use operator::manifests::{Child, Children, secrets};

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

fn nats_files(children: &Children, stack: &str) -> (String, String, String) {
    let name = format!("{stack}-nats");
    let Child::ConfigMap(cm) = find(children, "ConfigMap", &name) else {
        unreachable!()
    };
    let Child::Secret(secret) = find(children, "Secret", &name) else {
        unreachable!()
    };
    let file = |key: &str| String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap();
    (
        cm.data.as_ref().unwrap()["nats.conf"].clone(),
        file("routes.conf"),
        file("users.conf"),
    )
}

#[test]
fn nats_cluster_has_authenticated_routes_permissions_and_a_pdb() {
    let stack = common::load("nats-cluster");
    let children = common::build(&stack);
    let (conf, routes, users) = nats_files(&children, "ha");
    // The ConfigMap holds no credential; routes and users come from the Secret.
    assert!(!conf.contains("password"), "{conf}");
    assert!(conf.contains("include \"../secret/routes.conf\""), "{conf}");
    assert!(conf.contains("include \"../secret/users.conf\""), "{conf}");
    let password = "ha-nats-cluster-route-credentials-password";
    assert!(
        routes.contains(&format!(
            "authorization {{ user: \"route\", password: \"{password}\", timeout: 2 }}"
        )),
        "{routes}"
    );
    for i in 0..3 {
        assert!(
            routes.contains(&format!(
                "\"nats://route:{password}@ha-nats-{i}.ha-nats-headless.shop.svc:6222\""
            )),
            "{routes}"
        );
    }
    assert!(!routes.contains("ha-nats-3."));
    assert!(users.contains("user: \"customers\""));
    assert!(
        users.contains("{ publish: { allow: [\"events.customers.>\"] }, subscribe:"),
        "{users}"
    );
    assert!(
        users.contains(
            "subscribe: { allow: [\"customers.>\", \"$SRV.PING\", \"$SRV.INFO\", \"$SRV.STATS\", \"$SRV.*.customers\", \"$SRV.*.customers.*\", \"_INBOX_customers.>\"] }, allow_responses: true"
        ),
        "{users}"
    );
    assert!(
        users.contains(
            "publish: { allow: [\"$SRV.>\", \"auth.jwks\", \"auth.revoked\", \"customers.>\", \"$JS.API.STREAM.CREATE.EVENTS\""
        ),
        "{users}"
    );
    assert!(
        users.contains("password: \"ha-nats-gateway-password\""),
        "{users}"
    );
    let ctx = Ctx::new(&stack).unwrap();
    let route = secrets::generated(&ctx)
        .into_iter()
        .find(|g| g.name() == "ha-nats-cluster-route-credentials")
        .expect("a generated route credential");
    assert_eq!(
        route.keys["password"],
        secrets::Generator::Password,
        "generated, never fixed"
    );
    let Child::StatefulSet(sts) = find(&children, "StatefulSet", "ha-nats") else {
        unreachable!()
    };
    assert_eq!(sts.spec.as_ref().unwrap().replicas, Some(3));
    assert_eq!(
        sts.spec.as_ref().unwrap().service_name.as_deref(),
        Some("ha-nats-headless")
    );
    find(&children, "PodDisruptionBudget", "ha-nats");
    assert!(
        children.iter().all(|c| c.name() != "ha-mongodb"),
        "mongodb disabled"
    );
    let Child::Service(gw) = find(&children, "Service", "ha-gateway") else {
        unreachable!()
    };
    assert_eq!(
        gw.spec.as_ref().unwrap().type_.as_deref(),
        Some("LoadBalancer")
    );

    let single = common::build(&common::load("minimal"));
    let (_, routes, _) = nats_files(&single, "demo");
    assert!(!routes.contains("cluster {"));
    let ctx_stack = common::load("minimal");
    let ctx = Ctx::new(&ctx_stack).unwrap();
    assert!(
        secrets::generated(&ctx)
            .iter()
            .all(|g| !g.name().contains("route"))
    );
}

#[test]
fn nats_runs_jetstream_on_a_volume_sized_from_the_retention() {
    use operator::manifests::nats::STORE_HEADROOM;

    let check =
        |stack: &operator::crd::MicroserviceStack, max_age: u64, max_bytes: i64, replicas: &str| {
            let name = stack.metadata.name.clone().unwrap();
            let children = common::build(stack);
            let (conf, _, _) = nats_files(&children, &name);
            let store = max_bytes + STORE_HEADROOM;
            assert!(
                conf.contains(&format!(
                    "jetstream {{\n  store_dir: \"/data/jetstream\"\n  max_file_store: {store}\n}}"
                )),
                "{conf}"
            );
            let Child::StatefulSet(sts) = find(&children, "StatefulSet", &format!("{name}-nats"))
            else {
                unreachable!()
            };
            let spec = sts.spec.as_ref().unwrap();
            let claims = spec.volume_claim_templates.as_ref().unwrap();
            assert_eq!(claims.len(), 1);
            assert_eq!(claims[0].metadata.name.as_deref(), Some("data"));
            let requests = claims[0].spec.as_ref().unwrap().resources.as_ref().unwrap();
            assert_eq!(
                requests.requests.as_ref().unwrap()["storage"].0,
                store.to_string()
            );
            let server = &spec.template.spec.as_ref().unwrap().containers[0];
            assert!(
                server
                    .volume_mounts
                    .as_ref()
                    .unwrap()
                    .iter()
                    .any(|m| m.name == "data" && m.mount_path == "/data")
            );
            let gateway = env_map(container(
                &children,
                "Deployment",
                &format!("{name}-gateway"),
            ));
            let value = |key: &str| gateway[key].value.clone().unwrap();
            assert_eq!(value("EVENTS_MAX_AGE_SECS"), max_age.to_string());
            assert_eq!(value("EVENTS_MAX_BYTES"), max_bytes.to_string());
            assert_eq!(value("EVENTS_REPLICAS"), replicas);
            assert_eq!(value("EVENTS_MAX_STREAMS_PER_USER"), "4");
        };
    check(&common::load("minimal"), 7 * 24 * 3600, 1 << 30, "1");
    check(&common::load("nats-cluster"), 7 * 24 * 3600, 1 << 30, "3");
    let mut stack = common::load("minimal");
    stack.spec.events.retention.max_age = "90m".into();
    stack.spec.events.retention.max_bytes = "512Mi".into();
    check(&stack, 5400, 512 << 20, "1");
}

#[test]
fn nats_without_auth_has_no_users() {
    let children = common::build(&common::load("no-auth"));
    let (conf, _, users) = nats_files(&children, "open");
    assert!(!users.contains("authorization") && !conf.contains("authorization"));
    let env = env_map(container(&children, "Deployment", "open-echo"));
    assert!(!env.contains_key("NATS_USER") && !env.contains_key("NATS_PASSWORD"));
    assert!(
        children
            .iter()
            .all(|c| c.kind() != "Job" && (c.kind() != "Secret" || c.name() == "open-nats"))
    );
    let ctx_stack = common::load("no-auth");
    assert!(secrets::generated(&Ctx::new(&ctx_stack).unwrap()).is_empty());
}

#[test]
fn external_databases_use_the_given_servers() {
    let stack = common::load("external-databases");
    let children = common::build(&stack);
    assert!(
        children
            .iter()
            .all(|c| c.kind() != "StatefulSet" || c.name() == "ext-nats")
    );
    let Child::Secret(url) = find(&children, "Secret", "ext-customers-db-url") else {
        unreachable!()
    };
    assert_eq!(
        operator::generate::decode(url)["url"],
        "postgres://shop_ext_customers:ext-customers-db-password@pg.example.com:6432/shop_ext_customers",
        "names on a shared server carry the namespace and the stack"
    );
    let Child::Secret(url) = find(&children, "Secret", "ext-auth-db-url") else {
        unreachable!()
    };
    assert_eq!(
        operator::generate::decode(url)["url"],
        "mongodb://shop_ext_auth:ext-auth-db-password@mongo.example.com:27017/shop_ext_auth?authSource=shop_ext_auth"
    );
    let job = children
        .iter()
        .find(|c| c.kind() == "Job" && c.name().starts_with("ext-customers-db-"))
        .unwrap();
    let env = env_map(&pod(job).unwrap().containers[0]);
    assert_eq!(literal(&env, "PGHOST"), "pg.example.com");
    assert_eq!(
        secret_ref(&env, "PGPASSWORD"),
        ("pg-admin".into(), "password".into())
    );
    let auth = env_map(container(&children, "Deployment", "ext-auth"));
    assert_eq!(
        secret_ref(&auth, "ADMIN_PASSWORD"),
        ("shop-admin".into(), "password".into())
    );
    assert_eq!(literal(&auth, "ADMIN_EMAIL"), "root@example.com");
    let ctx = Ctx::new(&stack).unwrap();
    let generated: Vec<String> = secrets::generated(&ctx)
        .iter()
        .map(|g| g.name().to_owned())
        .collect();
    assert!(
        !generated.iter().any(|n| n.ends_with("-admin")),
        "no admin secrets for external servers: {generated:?}"
    );
    assert_eq!(
        secrets::referenced(&stack.spec),
        ["pg-admin", "mongo-admin", "shop-admin"]
    );
}

#[test]
fn missing_external_secret_keys_are_reported() {
    let stack = common::load("external-databases");
    let mut data = common::secret_data(&stack);
    data.get_mut("pg-admin").unwrap().remove("host");
    let err = operator::manifests::build(&stack, &data).unwrap_err();
    assert!(err.is_permanent());
    assert!(err.to_string().contains("pg-admin"), "{err}");
}

#[test]
fn generated_secrets_are_complete_and_retained_where_data_depends_on_them() {
    let stack = common::load("minimal");
    let ctx = Ctx::new(&stack).unwrap();
    let generated = secrets::generated(&ctx);
    let names: Vec<&str> = generated
        .iter()
        .map(secrets::GeneratedSecret::name)
        .collect();
    assert_eq!(
        names,
        [
            "demo-nats-gateway",
            "demo-nats-auth",
            "demo-nats-customers",
            "demo-nats-products",
            "demo-postgres-admin",
            "demo-mongodb-admin",
            "demo-auth-db",
            "demo-customers-db",
            "demo-products-db",
            "demo-jwt",
            "demo-admin"
        ]
    );
    for g in &generated {
        let retained = g
            .metadata
            .labels
            .as_ref()
            .unwrap()
            .get("natstack.dev/retain")
            .is_some();
        // The API admin's password too: auth writes it once into its database.
        assert_eq!(
            retained,
            g.name().ends_with("-db") || g.name().ends_with("-admin"),
            "{}",
            g.name()
        );
        // The volume whose data each retained Secret unlocks (auth keeps its users in MongoDB).
        let protects = match g.name() {
            "demo-postgres-admin" | "demo-customers-db" | "demo-products-db" => {
                Some("data-demo-postgres-0")
            }
            "demo-mongodb-admin" | "demo-auth-db" | "demo-admin" => Some("data-demo-mongodb-0"),
            _ => None,
        };
        assert_eq!(g.protects.as_deref(), protects, "{}", g.name());
    }
    // ... named as the StatefulSet controller names the claim of pod 0.
    let children = common::build(&stack);
    let Some(Child::StatefulSet(postgres)) = children.find("StatefulSet", "demo-postgres") else {
        panic!("no postgres StatefulSet");
    };
    let templates = postgres
        .spec
        .as_ref()
        .unwrap()
        .volume_claim_templates
        .as_ref()
        .unwrap();
    let template = templates[0].metadata.name.as_deref().unwrap();
    assert_eq!(
        format!("{template}-demo-postgres-0"),
        "data-demo-postgres-0"
    );
    let jwt = generated.iter().find(|g| g.name() == "demo-jwt").unwrap();
    let values = operator::generate::values(jwt, &mut rand::rngs::OsRng).unwrap();
    let pem = &values[secrets::JWT_KEY];
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    assert!(
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem).is_ok(),
        "{pem}"
    );
    let admin = generated
        .iter()
        .find(|g| g.name() == "demo-postgres-admin")
        .unwrap();
    let values = operator::generate::values(admin, &mut rand::rngs::OsRng).unwrap();
    assert_eq!(values["username"], "postgres");
    assert_eq!(values["password"].len(), 32);
    assert!(
        values["password"]
            .chars()
            .all(|c| c.is_ascii_alphanumeric())
    );
    let again = operator::generate::values(admin, &mut rand::rngs::OsRng).unwrap();
    assert_ne!(values["password"], again["password"]);
}

fn job<'a>(children: &'a Children, prefix: &str) -> &'a Child {
    children
        .iter()
        .find(|c| c.kind() == "Job" && c.name().starts_with(prefix))
        .unwrap_or_else(|| panic!("no job {prefix}*"))
}

fn url(children: &Children, name: &str) -> String {
    let Child::Secret(secret) = find(children, "Secret", name) else {
        unreachable!()
    };
    operator::generate::decode(secret)["url"].clone()
}

#[test]
fn shared_server_names_are_namespaced_bounded_and_distinct() {
    assert_eq!(
        secrets::shared_name("shop", "demo", "customers"),
        "shop_demo_customers"
    );
    assert_eq!(
        secrets::shared_name("shop", "my.stack", "order-items"),
        "shop_my-stack_order-items"
    );
    // `_` never occurs in Kubernetes names, so moving a `-` across the separator differs.
    assert_ne!(
        secrets::shared_name("a-b", "c", "d"),
        secrets::shared_name("a", "b-c", "d")
    );
    let namespace = "n".repeat(63);
    let long = secrets::shared_name(&namespace, "stack", "customers");
    let other = secrets::shared_name(&namespace, "stack", "products");
    assert_eq!(long.len(), 63, "{long}");
    assert_ne!(long, other, "a hash keeps truncated names apart");
    assert!(
        long.starts_with("nnnn") && long.as_bytes()[54] == b'_',
        "{long}"
    );
    // The stack's own server keeps the bare names (a `customers` database, as without the operator).
    let children = common::build(&common::load("minimal"));
    assert!(url(&children, "demo-customers-db-url").starts_with("postgres://customers:"));
}

fn external_with(pg: &[(&str, &str)], mongo: &[(&str, &str)]) -> Children {
    let stack = common::load("external-databases");
    let mut data = common::secret_data(&stack);
    for (secret, pairs) in [("pg-admin", pg), ("mongo-admin", mongo)] {
        let entry = data.get_mut(secret).unwrap();
        for (k, v) in pairs {
            entry.insert((*k).to_owned(), (*v).to_owned());
        }
    }
    operator::manifests::build(&stack, &data).expect("builds")
}

#[test]
fn external_tls_settings_reach_urls_jobs_and_mounts() {
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let children = external_with(
        &[("sslmode", "verify-full"), ("ca.crt", pem)],
        &[
            ("tls", "true"),
            ("ca.crt", pem),
            ("options", "replicaSet=rs0"),
        ],
    );
    let ca = format!("{}/ca.crt", secrets::DB_CA_DIR);
    assert_eq!(
        url(&children, "ext-customers-db-url"),
        format!(
            "postgres://shop_ext_customers:ext-customers-db-password@pg.example.com:6432/shop_ext_customers?sslmode=verify-full&sslrootcert={ca}"
        )
    );
    assert_eq!(
        url(&children, "ext-auth-db-url"),
        format!(
            "mongodb://shop_ext_auth:ext-auth-db-password@mongo.example.com:27017/shop_ext_auth?authSource=shop_ext_auth&tls=true&tlsCAFile={ca}&replicaSet=rs0"
        )
    );
    // The CA is mounted from the user's Secret wherever it is named.
    for child in [
        job(&children, "ext-customers-db-"),
        job(&children, "ext-auth-db-"),
        find(&children, "Deployment", "ext-customers"),
        find(&children, "Deployment", "ext-auth"),
    ] {
        let pod = pod(child).unwrap();
        let volume = common::volume(pod, "db-ca");
        let source = volume.secret.as_ref().unwrap();
        let expected = if child.name().contains("auth") {
            "mongo-admin"
        } else {
            "pg-admin"
        };
        assert_eq!(source.secret_name.as_deref(), Some(expected));
        let mount = pod.containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.name == "db-ca")
            .unwrap();
        assert_eq!(mount.mount_path, secrets::DB_CA_DIR);
        assert_eq!(mount.read_only, Some(true));
    }
    let env = env_map(&pod(job(&children, "ext-customers-db-")).unwrap().containers[0]);
    assert_eq!(literal(&env, "PGSSLMODE"), "verify-full");
    assert_eq!(literal(&env, "PGSSLROOTCERT"), ca);
    let env = env_map(&pod(job(&children, "ext-auth-db-")).unwrap().containers[0]);
    assert_eq!(
        literal(&env, "DB_URI"),
        format!("mongodb://mongo.example.com:27017/?tls=true&tlsCAFile={ca}&replicaSet=rs0")
    );

    // A DNS seed list: no port, TLS implied; no CA means no mount.
    let srv = external_with(&[], &[("srv", "true")]);
    assert_eq!(
        url(&srv, "ext-auth-db-url"),
        "mongodb+srv://shop_ext_auth:ext-auth-db-password@mongo.example.com/shop_ext_auth?authSource=shop_ext_auth"
    );
    assert!(
        pod(find(&srv, "Deployment", "ext-customers"))
            .unwrap()
            .volumes
            .iter()
            .flatten()
            .all(|v| v.name != "db-ca")
    );
    // Without settings, the URLs carry none (libpq's and sqlx's default is `prefer`).
    assert!(!url(&srv, "ext-customers-db-url").contains('?'));
}

#[test]
fn unknown_tls_settings_are_a_permanent_error_naming_the_secret() {
    let stack = common::load("external-databases");
    for (secret, key, value) in [
        ("pg-admin", "sslmode", "required"),
        ("mongo-admin", "tls", "yes"),
    ] {
        let mut data = common::secret_data(&stack);
        data.get_mut(secret)
            .unwrap()
            .insert(key.into(), value.into());
        let err = operator::manifests::build(&stack, &data).unwrap_err();
        assert!(err.is_permanent(), "{err}");
        let text = err.to_string();
        assert!(text.contains(secret) && text.contains(key), "{text}");
    }
}

#[test]
fn provisioning_jobs_mark_what_they_create() {
    let stack = common::load("minimal");
    let children = common::build(&stack);
    let env = env_map(&pod(job(&children, "demo-products-db-")).unwrap().containers[0]);
    assert_eq!(literal(&env, "STACK"), "shop/demo");
    assert_eq!(literal(&env, "SERVICE"), "products");
    let owner = env["OWNER_ID"]
        .value_from
        .as_ref()
        .unwrap()
        .secret_key_ref
        .as_ref()
        .unwrap();
    assert_eq!(
        (owner.name.as_str(), owner.key.as_str(), owner.optional),
        ("demo-products-db", "owner", Some(true)),
        "optional: Secrets made before owner ids existed lack the key"
    );
}

#[test]
fn job_names_change_whenever_their_template_does() {
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let variants = [
        external_with(&[], &[]),
        external_with(&[("sslmode", "require")], &[]),
        external_with(&[("sslmode", "verify-full"), ("ca.crt", pem)], &[]),
        external_with(&[], &[("tls", "true")]),
        external_with(&[], &[("srv", "true")]),
    ];
    let mut seen: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for children in &variants {
        for child in children.iter().filter(|c| c.kind() == "Job") {
            let Child::Job(job) = child else {
                unreachable!()
            };
            let template = serde_json::to_value(&job.spec.as_ref().unwrap().template).unwrap();
            if let Some(before) = seen.insert(child.name().to_owned(), template.clone()) {
                assert_eq!(
                    before,
                    template,
                    "{}: same name, different template (an immutable-field apply error)",
                    child.name()
                );
            }
        }
    }
    assert!(seen.len() >= 6, "{:?}", seen.keys());
}

#[test]
fn database_servers_start_slowly_and_fit_their_limits() {
    use operator::manifests::{mongodb, postgres};
    let stack = common::load("minimal");
    let children = common::build(&stack);
    for name in ["demo-postgres", "demo-mongodb"] {
        let c = &pod(find(&children, "StatefulSet", name))
            .unwrap()
            .containers[0];
        let startup = c.startup_probe.as_ref().expect("startup probe");
        assert!(
            startup.period_seconds.unwrap() * startup.failure_threshold.unwrap() >= 300,
            "{name}: room for a slow first start"
        );
        assert!(
            c.liveness_probe
                .as_ref()
                .unwrap()
                .initial_delay_seconds
                .is_none()
        );
    }
    let mongo = &pod(find(&children, "StatefulSet", "demo-mongodb"))
        .unwrap()
        .containers[0];
    assert_eq!(
        mongo.args.as_deref().unwrap(),
        ["mongod", "--wiredTigerCacheSizeGB", "0.25"],
        "512Mi: the smallest cache"
    );
    assert!((mongodb::cache_gb(4 << 30) - 1.5).abs() < 1e-9);
    assert!((mongodb::cache_gb(1 << 30) - 0.25).abs() < 1e-9);
    let pg = &pod(find(&children, "StatefulSet", "demo-postgres"))
        .unwrap()
        .containers[0];
    assert_eq!(
        pg.args.as_deref().unwrap(),
        ["postgres", "-c", "max_connections=100"]
    );
    // Two services of one replica: (100 - 10) / 4 pods is more than the cap of 10.
    let env = env_map(container(&children, "Deployment", "demo-customers"));
    assert_eq!(literal(&env, "DATABASE_MAX_CONNECTIONS"), "10");
    // A small server and more replicas: every pod's pool fits, surge pods included.
    let mut busy = stack;
    busy.spec.postgres.max_connections = Some(40);
    busy.spec.services[1].replicas = 3;
    busy.spec.services[2].replicas = 2;
    let ctx = Ctx::new(&busy).unwrap();
    assert_eq!(postgres::pool_size(&ctx), 4);
    let pods = (3 + 1) + (2 + 1);
    assert!(postgres::pool_size(&ctx) * pods + postgres::RESERVED_CONNECTIONS <= 40);
    let children = common::build(&busy);
    let env = env_map(container(&children, "Deployment", "demo-products"));
    assert_eq!(literal(&env, "DATABASE_MAX_CONNECTIONS"), "4");
    let pg = &pod(find(&children, "StatefulSet", "demo-postgres"))
        .unwrap()
        .containers[0];
    assert_eq!(pg.args.as_deref().unwrap()[2], "max_connections=40");
}
