//! The NATS objects and the NATS side of every client: exposure of the monitor port, TLS
//! wiring, private inboxes, `max_payload` and its CRD cap. `tests/nats` runs them for real.

use crate::common;
use contract::deploy::NATS_MONITOR_PORT as MONITOR_PORT;
use k8s_openapi::api::core::v1::Service;
use kube::CustomResourceExt as _;
use operator::crd::{MicroserviceStack, NatsTlsSpec};
use operator::manifests::Child;
use operator::manifests::nats::{self, MAX_BODY_LIMIT, MAX_PAYLOAD_LIMIT};

fn services(stack: &MicroserviceStack) -> Vec<Service> {
    common::build(stack)
        .iter()
        .filter_map(|c| match c {
            Child::Service(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_monitor_port_is_on_no_public_service() {
    for name in common::VALID {
        for service in services(&common::load(name)) {
            let spec = service.spec.as_ref().unwrap();
            let ports: Vec<i32> = spec.ports.iter().flatten().map(|p| p.port).collect();
            let name = service.metadata.name.clone().unwrap();
            if ports.contains(&MONITOR_PORT.into()) {
                assert!(name.ends_with("-nats-headless"), "{name}");
                assert_eq!(spec.cluster_ip.as_deref(), Some("None"), "{name}");
            }
            let public = !matches!(spec.type_.as_deref(), None | Some("ClusterIP"));
            if public {
                assert!(name.ends_with("-gateway"), "{name} is public");
                assert!(!ports.contains(&MONITOR_PORT.into()), "{name}");
            }
        }
    }
}

#[test]
fn every_component_gets_its_own_inbox_prefix() {
    let stack = common::load("minimal");
    for child in common::build(&stack).iter() {
        let Child::Deployment(d) = child else {
            continue;
        };
        let component = child.name().trim_start_matches("demo-");
        let pod = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        let env = pod.containers[0].env.as_ref().unwrap();
        let prefix = env.iter().find(|e| e.name == nats::NATS_INBOX_PREFIX);
        assert_eq!(
            prefix.and_then(|e| e.value.as_deref()),
            Some(format!("_INBOX_{component}").as_str()),
            "{component}"
        );
    }
}

#[test]
fn tls_reaches_the_servers_and_every_client() {
    let mut stack = common::load("nats-cluster");
    stack.spec.nats.tls = Some(NatsTlsSpec {
        secret_name: "ha-nats-tls".into(),
    });
    let children = common::build(&stack);
    let mut clients = 0;
    for child in children.iter() {
        match child {
            Child::ConfigMap(cm) if child.name() == "ha-nats" => {
                let conf = &cm.data.as_ref().unwrap()[nats::CONFIG_FILE];
                assert!(
                    conf.contains("cert_file: \"/etc/nats/tls/tls.crt\""),
                    "{conf}"
                );
            }
            Child::StatefulSet(sts) if child.name() == "ha-nats" => {
                let pod = sts.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
                let tls = common::volume(pod, "tls");
                let secret = tls.secret.as_ref().unwrap();
                assert_eq!(secret.secret_name.as_deref(), Some("ha-nats-tls"));
                let reload = &pod.containers[1].command.as_ref().unwrap()[2];
                assert!(
                    reload.contains("/etc/nats/tls/*"),
                    "a renewed certificate reloads"
                );
            }
            Child::Deployment(d) => {
                clients += 1;
                let pod = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
                let env = pod.containers[0].env.as_ref().unwrap();
                let value = |name: &str| {
                    env.iter()
                        .find(|e| e.name == name)
                        .and_then(|e| e.value.clone())
                };
                assert_eq!(
                    value("NATS_URL").as_deref(),
                    Some("tls://ha-nats.shop.svc:4222")
                );
                assert_eq!(
                    value(nats::NATS_CA_FILE).as_deref(),
                    Some("/var/run/secrets/natstack/nats-ca/ca.crt")
                );
                let ca = common::volume(pod, "nats-ca");
                let items = ca.secret.as_ref().unwrap().items.as_ref().unwrap();
                assert_eq!(items.len(), 1, "clients get the CA, never the key");
                assert_eq!(items[0].key, "ca.crt");
            }
            _ => {}
        }
    }
    assert!(clients >= 2);
    // Without TLS nothing of it is rendered.
    let plain = common::build(&common::load("nats-cluster"));
    assert!(plain.iter().all(|c| match c {
        Child::Deployment(d) => {
            let pod = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
            pod.volumes.iter().flatten().all(|v| v.name != "nats-ca")
        }
        _ => true,
    }));
}

#[test]
fn max_payload_follows_the_gateway_body_limit_within_the_nats_maximum() {
    let conf = |max_body: i64| {
        let mut stack = common::load("minimal");
        stack.spec.gateway.max_body_bytes = max_body;
        let children = common::build(&stack);
        let cm = children
            .iter()
            .find_map(|c| match c {
                Child::ConfigMap(cm) if c.name() == "demo-nats" => Some(cm.clone()),
                _ => None,
            })
            .unwrap();
        cm.data.unwrap()[nats::CONFIG_FILE].clone()
    };
    assert!(
        conf(1024).contains("max_payload: 1048576\n"),
        "never below the default"
    );
    assert!(
        conf(10 * 1024 * 1024).contains(&format!("max_payload: {}\n", 10 * 1024 * 1024 + 65536))
    );
    assert!(conf(MAX_BODY_LIMIT).contains(&format!("max_payload: {MAX_PAYLOAD_LIMIT}\n")));

    // The CRD refuses a body limit NATS could not carry.
    let crd = serde_json::to_value(MicroserviceStack::crd()).unwrap();
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let field =
        &schema["properties"]["spec"]["properties"]["gateway"]["properties"]["maxBodyBytes"];
    #[allow(clippy::cast_precision_loss)] // far below 2^53: exact in an f64
    let limit = MAX_BODY_LIMIT as f64;
    assert_eq!(field["maximum"].as_f64(), Some(limit), "{field}");
}

#[test]
fn clustered_servers_spread_over_nodes() {
    let stack = common::load("nats-cluster");
    let children = common::build(&stack);
    let spec = common::pod(common::find(&children, "StatefulSet", "ha-nats")).unwrap();
    let spread = &spec.topology_spread_constraints.as_ref().expect("a spread")[0];
    assert_eq!(spread.topology_key, "kubernetes.io/hostname");
    assert_eq!(spread.when_unsatisfiable, "ScheduleAnyway");
    assert_eq!(
        spread
            .label_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["app.kubernetes.io/name"],
        "nats"
    );
}
