//! The NATS pods and Services: the StatefulSet (server, reloader sidecar, lame-duck preStop),
//! the client Service and the headless Service.

use std::fmt::Write as _;

use contract::deploy;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, ContainerPort, ExecAction, Lifecycle, LifecycleHandler,
    PersistentVolumeClaim, PodSpec, PodTemplateSpec, ResourceRequirements, SecretVolumeSource,
    Service, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{
    COMPONENT, CONFIG_DIR, CONFIG_FILE, DATA_CLAIM, DATA_DIR, PID_FILE, RELOAD_POLL_SECS,
    ROUTES_FILE, SECRET_DIR, TERMINATION_GRACE_SECS, TLS_DIR, config, read_only_mount, store_bytes,
};
use crate::crd::PodsOf;
use crate::manifests::common::{Ctx, config_hash, env_field};
use crate::manifests::monitoring;
use crate::manifests::pods::{
    container_security, customize, http_probe, locked_down_pod, resources_or, scratch, volume_claim,
};

/// The NATS server's resources: the spec's, or defaults whose memory follows the largest
/// message ([`super::default_memory`]).
fn server_resources(ctx: &Ctx<'_>) -> ResourceRequirements {
    resources_or(
        ctx.spec.nats.resources.as_ref(),
        "50m",
        "1",
        &super::default_memory(ctx),
    )
}

/// The reloader's resources: the spec's `reloaderResources`, or a small share. It wakes
/// every [`RELOAD_POLL_SECS`] to checksum a few files.
fn reloader_resources(given: Option<&ResourceRequirements>) -> ResourceRequirements {
    resources_or(given, "5m", "100m", "32Mi")
}

pub(super) fn service(ctx: &Ctx<'_>, headless: bool) -> Service {
    let port = |name: &str, port: u16| ServicePort {
        name: Some(name.to_owned()),
        port: port.into(),
        target_port: Some(IntOrString::Int(port.into())),
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    };
    // The monitor port is listed on the headless Service only (in-cluster pod DNS, never a
    // NodePort or LoadBalancer); clients see the client port alone.
    let (name, ports) = if headless {
        (
            ctx.child("nats-headless"),
            vec![
                port("client", deploy::NATS_PORT),
                port("cluster", deploy::NATS_CLUSTER_PORT),
                port("monitor", deploy::NATS_MONITOR_PORT),
            ],
        )
    } else {
        (
            ctx.child(COMPONENT),
            vec![port("client", deploy::NATS_PORT)],
        )
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

/// The reloader's script: when the checksum of the mounted config (and certificate) changes,
/// signal the server to reload; a failed signal (server not up yet) is retried next round.
///
/// The server and the reloader start side by side, so a file can change after the server read
/// it but before the reloader's first checksum; the checksum alone would never see that
/// change. So once the server's pid file exists (it writes it just after reading its files),
/// the first look also reloads if a file is newer than the pid file. It reloads only then:
/// a reload re-reads the users and accounts, and a request in flight at that moment can be
/// lost, so an unchanged config is never reloaded. A change in the milliseconds between the
/// server's read and its pid file is not seen until the next change.
#[must_use]
pub fn reload_script(tls: bool) -> String {
    let mut files = format!("{CONFIG_DIR}/*.conf {SECRET_DIR}/*.conf");
    if tls {
        let _ = write!(files, " {TLS_DIR}/*");
    }
    format!(
        "trap 'exit 0' TERM INT\n\
         sum() {{ cat {files} 2>/dev/null | md5sum; }}\n\
         last=$(sum)\n\
         first=1\n\
         while :; do\n\
         \x20 sleep {RELOAD_POLL_SECS} & wait $!\n\
         \x20 now=$(sum)\n\
         \x20 if [ -n \"$first\" ] && [ -f {PID_FILE} ]; then\n\
         \x20   first=\n\
         \x20   for f in {files}; do if [ \"$f\" -nt {PID_FILE} ]; then last=; fi; done\n\
         \x20 fi\n\
         \x20 if [ \"$now\" != \"$last\" ] && nats-server --signal reload={PID_FILE}; then last=$now; fi\n\
         done\n"
    )
}

pub(super) fn stateful_set(ctx: &Ctx<'_>, routes: &str) -> StatefulSet {
    let nats = &ctx.spec.nats;
    let rendered = config(ctx);
    // Users are left out on purpose: they are reloaded, not rolled.
    let hash = config_hash([(CONFIG_FILE, rendered.as_str()), (ROUTES_FILE, routes)]);

    let env = vec![env_field(deploy::env::operator::POD_NAME, "metadata.name")];
    let port = |name: &str, port: u16| ContainerPort {
        name: Some(name.to_owned()),
        container_port: port.into(),
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    };
    let (run, run_mount) = scratch("run", "/var/run/nats");
    let mut volumes = vec![
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: ctx.child(COMPONENT),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "secret".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(ctx.child(COMPONENT)),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        },
        run,
    ];
    let mut mounts = vec![
        read_only_mount("config", CONFIG_DIR),
        read_only_mount("secret", SECRET_DIR),
        run_mount,
    ];
    if let Some(tls) = &nats.tls {
        volumes.push(Volume {
            name: "tls".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(tls.secret_name.clone()),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(read_only_mount("tls", TLS_DIR));
    }
    let server = Container {
        name: COMPONENT.into(),
        image: Some(nats.image.clone()),
        command: Some(vec![
            "nats-server".into(),
            "--config".into(),
            format!("{CONFIG_DIR}/{CONFIG_FILE}"),
        ]),
        ports: Some(vec![
            port("client", deploy::NATS_PORT),
            port("cluster", deploy::NATS_CLUSTER_PORT),
            port("monitor", deploy::NATS_MONITOR_PORT),
        ]),
        env: Some(env),
        liveness_probe: Some(http_probe("/healthz", deploy::NATS_MONITOR_PORT, 10)),
        readiness_probe: Some(http_probe("/healthz", deploy::NATS_MONITOR_PORT, 5)),
        // Lame duck: stop accepting clients and spread their disconnects over the duration,
        // so they move to another server of the cluster. The server ignores the SIGTERM that
        // follows while lame duck runs. A single server has nowhere to send its clients: lame
        // duck would only make each restart last its whole duration, so it stops at once.
        lifecycle: (nats.replicas > 1).then(|| Lifecycle {
            pre_stop: Some(LifecycleHandler {
                exec: Some(ExecAction {
                    command: Some(vec![
                        "nats-server".into(),
                        "--signal".into(),
                        format!("ldm={PID_FILE}"),
                    ]),
                }),
                ..LifecycleHandler::default()
            }),
            ..Lifecycle::default()
        }),
        resources: Some(server_resources(ctx)),
        security_context: Some(container_security()),
        volume_mounts: Some(
            mounts
                .iter()
                .cloned()
                .chain([VolumeMount {
                    name: DATA_CLAIM.into(),
                    mount_path: DATA_DIR.into(),
                    ..VolumeMount::default()
                }])
                .collect(),
        ),
        ..Container::default()
    };
    let reloader = Container {
        name: "reloader".into(),
        image: Some(nats.image.clone()),
        command: Some(vec![
            "sh".into(),
            "-c".into(),
            reload_script(nats.tls.is_some()),
        ]),
        resources: Some(reloader_resources(nats.reloader_resources.as_ref())),
        security_context: Some(container_security()),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    let containers = std::iter::once(server)
        .chain([reloader])
        .chain(monitoring::nats_sidecar(ctx))
        .collect();
    let mut workload = StatefulSet {
        metadata: ctx.meta(&ctx.child(COMPONENT), COMPONENT),
        spec: Some(StatefulSetSpec {
            replicas: Some(nats.replicas),
            service_name: Some(ctx.child("nats-headless")),
            pod_management_policy: Some("Parallel".into()),
            volume_claim_templates: Some(vec![data_claim(ctx)]),
            selector: LabelSelector {
                match_labels: Some(ctx.selector(COMPONENT)),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(ctx.pod_metadata(COMPONENT, hash)),
                spec: Some(PodSpec {
                    // The reloader signals the server through the shared pid namespace.
                    share_process_namespace: Some(true),
                    termination_grace_period_seconds: (nats.replicas > 1)
                        .then_some(TERMINATION_GRACE_SECS),
                    // Servers of a cluster on different nodes where possible (a StatefulSet
                    // has no pod-template-hash: count every server).
                    topology_spread_constraints: Some(vec![
                        k8s_openapi::api::core::v1::TopologySpreadConstraint {
                            match_label_keys: None,
                            ..ctx.spread(COMPONENT)
                        },
                    ]),
                    ..locked_down_pod(1000, containers, volumes)
                }),
            },
            ..StatefulSetSpec::default()
        }),
        status: None,
    };
    if let Some(spec) = workload.spec.as_mut() {
        customize(ctx, PodsOf::Nats, &mut spec.template);
    }
    workload
}

/// Each server's volume: JetStream's store, sized to hold the stream ([`store_bytes`]).
fn data_claim(ctx: &Ctx<'_>) -> PersistentVolumeClaim {
    volume_claim(
        ctx,
        DATA_CLAIM,
        COMPONENT,
        store_bytes(ctx).to_string(),
        None,
    )
}
