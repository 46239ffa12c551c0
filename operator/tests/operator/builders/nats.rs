//! The NATS server's built objects: its config files, cluster routes, users and permissions,
//! JetStream's volume, and a stack without NATS auth.

use super::*;

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
