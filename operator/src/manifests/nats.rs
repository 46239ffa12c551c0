//! NATS: the config (cluster routes for 3 replicas; one user per component with subject
//! permissions when auth is on), a StatefulSet, a client Service, a headless Service and a PDB.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource,
    ObjectFieldSelector, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::common::{
    CONFIG_HASH, Ctx, NATS_PORT, config_hash, container_security, env_secret, http_probe,
    pod_security, resources_or, secret_parts,
};
use super::secrets::nats_users;
use super::{Child, SecretData};
use crate::error::Error;

const COMPONENT: &str = "nats";
const CLUSTER_PORT: i32 = 6222;
const MONITOR_PORT: i32 = 8222;
const CONFIG_FILE: &str = "nats.conf";

/// Subjects a component may publish to and subscribe on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permissions {
    /// Allowed publish subjects.
    pub publish: Vec<String>,
    /// Allowed subscribe subjects.
    pub subscribe: Vec<String>,
}

/// The permissions of `user`: the gateway calls every service and discovery; a service serves
/// `<name>.>` and `$SRV.>` and replies into inboxes.
#[must_use]
pub fn permissions(ctx: &Ctx<'_>, user: &str) -> Permissions {
    if user == "gateway" {
        let mut publish = vec!["$SRV.>".to_owned(), "auth.jwks".to_owned()];
        publish.extend(ctx.spec.services.iter().map(|s| format!("{}.>", s.name)));
        Permissions {
            publish,
            subscribe: vec!["_INBOX.>".into()],
        }
    } else {
        Permissions {
            publish: vec!["_INBOX.>".into()],
            subscribe: vec![format!("{user}.>"), "$SRV.>".into()],
        }
    }
}

/// Env var through which the NATS server reads `user`'s password.
#[must_use]
pub fn password_var(user: &str) -> String {
    format!("NATS_PW_{}", user.to_uppercase().replace('-', "_"))
}

/// The rendered `nats.conf`.
#[must_use]
pub fn config(ctx: &Ctx<'_>) -> String {
    let nats = &ctx.spec.nats;
    let mut conf = format!(
        "server_name: $POD_NAME\nlisten: 0.0.0.0:{NATS_PORT}\nhttp: 0.0.0.0:{MONITOR_PORT}\nlame_duck_duration: 30s\n"
    );
    if nats.replicas > 1 {
        let headless = ctx.child("nats-headless");
        let routes: Vec<String> = (0..nats.replicas)
            .map(|i| {
                format!(
                    "    nats://{}-{i}.{}:{CLUSTER_PORT}",
                    ctx.child(COMPONENT),
                    ctx.dns(&headless)
                )
            })
            .collect();
        let _ = write!(
            conf,
            "cluster {{\n  name: {}\n  listen: 0.0.0.0:{CLUSTER_PORT}\n  routes: [\n{}\n  ]\n}}\n",
            ctx.name,
            routes.join("\n")
        );
    }
    if nats.auth {
        conf.push_str("authorization {\n  users: [\n");
        for user in nats_users(ctx) {
            let p = permissions(ctx, &user);
            let _ = writeln!(
                conf,
                "    {{ user: {user:?}, password: ${}, permissions: {{ publish: {{ allow: {} }}, subscribe: {{ allow: {} }} }} }}",
                password_var(&user),
                list(&p.publish),
                list(&p.subscribe),
            );
        }
        conf.push_str("  ]\n}\n");
    }
    conf
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// The ConfigMap holding `nats.conf`.
#[must_use]
pub fn config_map(ctx: &Ctx<'_>) -> ConfigMap {
    ConfigMap {
        metadata: ctx.meta(&ctx.child(COMPONENT), COMPONENT),
        data: Some(BTreeMap::from([(CONFIG_FILE.to_owned(), config(ctx))])),
        ..ConfigMap::default()
    }
}

/// StatefulSet, Services and PDB of NATS.
///
/// # Errors
/// Never today; kept fallible like the other builders.
pub fn children(ctx: &Ctx<'_>, secrets: &SecretData) -> Result<Vec<Child>, Error> {
    let mut out = vec![
        Child::Service(service(ctx, false)),
        Child::Service(service(ctx, true)),
        Child::StatefulSet(stateful_set(ctx, secrets)),
    ];
    out.extend(ctx.pdb(COMPONENT, ctx.spec.nats.replicas).map(Child::Pdb));
    Ok(out)
}

fn service(ctx: &Ctx<'_>, headless: bool) -> Service {
    let port = |name: &str, port: i32| ServicePort {
        name: Some(name.to_owned()),
        port,
        target_port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    };
    let (name, ports) = if headless {
        (
            ctx.child("nats-headless"),
            vec![
                port("client", NATS_PORT),
                port("cluster", CLUSTER_PORT),
                port("monitor", MONITOR_PORT),
            ],
        )
    } else {
        (ctx.child(COMPONENT), vec![port("client", NATS_PORT)])
    };
    Service {
        metadata: ctx.meta(&name, COMPONENT),
        spec: Some(ServiceSpec {
            selector: Some(ctx.selector(COMPONENT)),
            ports: Some(ports),
            cluster_ip: headless.then(|| "None".to_owned()),
            publish_not_ready_addresses: headless.then_some(true),
            type_: Some("ClusterIP".into()),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn stateful_set(ctx: &Ctx<'_>, secrets: &SecretData) -> StatefulSet {
    let nats = &ctx.spec.nats;
    let users = if nats.auth {
        nats_users(ctx)
    } else {
        Vec::new()
    };
    let password_secrets: Vec<String> = users.iter().map(|u| ctx.nats_user_secret(u)).collect();
    let rendered = config(ctx);
    let mut parts = vec![(CONFIG_FILE, rendered.as_str())];
    parts.extend(secret_parts(secrets, &password_secrets));
    let hash = config_hash(parts);

    let mut env = vec![EnvVar {
        name: "POD_NAME".into(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: "metadata.name".into(),
                api_version: None,
            }),
            ..EnvVarSource::default()
        }),
    }];
    env.extend(
        users
            .iter()
            .map(|u| env_secret(&password_var(u), &ctx.nats_user_secret(u), "password")),
    );
    let port = |name: &str, port: i32| ContainerPort {
        name: Some(name.to_owned()),
        container_port: port,
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    };
    let container = Container {
        name: COMPONENT.into(),
        image: Some(nats.image.clone()),
        command: Some(vec![
            "nats-server".into(),
            "--config".into(),
            format!("/etc/nats/{CONFIG_FILE}"),
        ]),
        ports: Some(vec![
            port("client", NATS_PORT),
            port("cluster", CLUSTER_PORT),
            port("monitor", MONITOR_PORT),
        ]),
        env: Some(env),
        liveness_probe: Some(http_probe("/healthz", MONITOR_PORT, 10)),
        readiness_probe: Some(http_probe("/healthz", MONITOR_PORT, 5)),
        resources: Some(resources_or(nats.resources.as_ref(), "50m", "128Mi")),
        security_context: Some(container_security()),
        volume_mounts: Some(vec![VolumeMount {
            name: "config".into(),
            mount_path: "/etc/nats".into(),
            read_only: Some(true),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };
    StatefulSet {
        metadata: ctx.meta(&ctx.child(COMPONENT), COMPONENT),
        spec: Some(StatefulSetSpec {
            replicas: Some(nats.replicas),
            service_name: Some(ctx.child("nats-headless")),
            pod_management_policy: Some("Parallel".into()),
            selector: LabelSelector {
                match_labels: Some(ctx.selector(COMPONENT)),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(ctx.labels(COMPONENT)),
                    annotations: Some(BTreeMap::from([(CONFIG_HASH.to_owned(), hash)])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    security_context: Some(pod_security(1000)),
                    enable_service_links: Some(false),
                    automount_service_account_token: Some(false),
                    termination_grace_period_seconds: Some(60),
                    volumes: Some(vec![Volume {
                        name: "config".into(),
                        config_map: Some(ConfigMapVolumeSource {
                            name: ctx.child(COMPONENT),
                            ..ConfigMapVolumeSource::default()
                        }),
                        ..Volume::default()
                    }]),
                    ..PodSpec::default()
                }),
            },
            ..StatefulSetSpec::default()
        }),
        status: None,
    }
}
