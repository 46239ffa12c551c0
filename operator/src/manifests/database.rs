//! The shape shared by the managed PostgreSQL and MongoDB servers: a single-replica
//! StatefulSet with a volume, and its Service.

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    Service, ServicePort, ServiceSpec, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::common::{Ctx, config_hash, secret_parts};
use super::pods::{
    container_security, customize, locked_down_pod, resources_or, scratch, volume_claim,
};
use super::secrets::{admin_secret, database, database_image};
use super::{Child, SecretData};
use crate::crd::{DatabaseKind, DatabaseSpec, PodsOf};

/// Seconds a database server has to shut down cleanly once stopped (PostgreSQL's fast
/// shutdown writes a checkpoint first, mongod flushes its journal): Kubernetes' default 30 s
/// would SIGKILL a long checkpoint and leave crash recovery to the next start.
pub const TERMINATION_GRACE_SECS: i64 = 120;

/// How long a database server may take to start (initialise its volume, replay its log)
/// before liveness checks begin.
pub const STARTUP_SECONDS: i32 = 600;

/// Name of the volume claim template of a managed database server's StatefulSet.
pub const DATA_CLAIM: &str = "data";

/// The PersistentVolumeClaim holding a managed database server's data: what the StatefulSet
/// controller names the claim of pod 0 (`<template>-<statefulset>-0`). It outlives the stack
/// (retention policy `Retain`), and with it the credentials the server was initialised with.
#[must_use]
pub fn data_claim(ctx: &Ctx<'_>, component: &str) -> String {
    format!("{DATA_CLAIM}-{}-0", ctx.child(component))
}

/// What a managed database server's engine brings to its workload: all that differs between
/// PostgreSQL and MongoDB.
#[derive(Clone, Debug)]
pub struct Engine {
    /// Port it listens on.
    pub port: i32,
    /// User and group id of the image's database user.
    pub uid: i64,
    /// Where the volume is mounted.
    pub data_path: &'static str,
    /// Writable scratch directories the image needs under a read-only root.
    pub scratch: &'static [&'static str],
    /// Container env (admin credentials from the admin Secret).
    pub env: Vec<EnvVar>,
    /// Container args (the server command and its settings, run by the image's entrypoint).
    pub args: Vec<String>,
    /// Liveness and readiness probe; also the startup probe, with room for a slow first start
    /// (initialising the volume) or a long recovery, before liveness may restart the pod.
    pub probe: Probe,
}

/// A managed database server's workload: its engine, and what the stack says of it.
struct Workload<'a> {
    /// Component name (`postgres` or `mongodb`).
    component: &'static str,
    /// Whose `podOverrides` apply.
    pods: PodsOf<'static>,
    /// The spec of the server.
    spec: &'a DatabaseSpec,
    /// Server image.
    image: String,
    /// The admin Secret, whose data is part of the config hash.
    admin_secret: String,
    /// What its engine brings.
    engine: Engine,
}

/// Default memory request and limit of a managed database server.
pub const DEFAULT_MEMORY: &str = "512Mi";

/// Compute resources of a managed database server: the spec's, or small defaults.
#[must_use]
pub fn resources(spec: &DatabaseSpec) -> ResourceRequirements {
    resources_or(spec.resources.as_ref(), "100m", "2", DEFAULT_MEMORY)
}

/// The memory limit of a managed database server in bytes, when it has one.
#[must_use]
pub fn memory_limit_bytes(spec: &DatabaseSpec) -> Option<u64> {
    let limits = resources(spec).limits?;
    super::pods::memory_bytes(limits.get("memory")?)
}

/// StatefulSet and Service of the stack's own server of `kind`; nothing when the stack has
/// none (disabled, or an external server). `engine` gets the server's spec and the name of its
/// admin Secret.
#[must_use]
pub fn managed(
    ctx: &Ctx<'_>,
    secrets: &SecretData,
    kind: DatabaseKind,
    engine: impl FnOnce(&DatabaseSpec, &str) -> Engine,
) -> Vec<Child> {
    let (spec, component) = database(ctx, kind);
    if !spec.is_managed() {
        return Vec::new();
    }
    let admin_secret = admin_secret(ctx, kind);
    let server = Workload {
        component,
        pods: match kind {
            DatabaseKind::Mongodb => PodsOf::Mongodb,
            DatabaseKind::Postgres | DatabaseKind::None => PodsOf::Postgres,
        },
        spec,
        image: database_image(ctx, kind),
        engine: engine(spec, &admin_secret),
        admin_secret,
    };
    vec![
        Child::Service(service(ctx, &server)),
        Child::StatefulSet(stateful_set(ctx, server, secrets)),
    ]
}

fn service(ctx: &Ctx<'_>, server: &Workload<'_>) -> Service {
    Service {
        metadata: ctx.meta(&ctx.child(server.component), server.component),
        spec: Some(ServiceSpec {
            selector: Some(ctx.selector(server.component)),
            ports: Some(vec![ServicePort {
                name: Some(server.component.to_owned()),
                port: server.engine.port,
                target_port: Some(IntOrString::Int(server.engine.port)),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            type_: Some("ClusterIP".into()),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn stateful_set(ctx: &Ctx<'_>, server: Workload<'_>, secrets: &SecretData) -> StatefulSet {
    let component = server.component;
    let hash = config_hash(secret_parts(
        secrets,
        std::slice::from_ref(&server.admin_secret),
    ));
    let mut mounts = vec![VolumeMount {
        name: DATA_CLAIM.into(),
        mount_path: server.engine.data_path.into(),
        ..VolumeMount::default()
    }];
    let mut volumes = Vec::new();
    for (i, path) in server.engine.scratch.iter().enumerate() {
        let (volume, mount) = scratch(&format!("scratch-{i}"), path);
        volumes.push(volume);
        mounts.push(mount);
    }
    let container = Container {
        name: component.into(),
        image: Some(server.image.clone()),
        ports: Some(vec![ContainerPort {
            name: Some(component.into()),
            container_port: server.engine.port,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        env: Some(server.engine.env),
        args: Some(server.engine.args),
        startup_probe: Some(Probe {
            period_seconds: Some(5),
            failure_threshold: Some(STARTUP_SECONDS / 5),
            ..server.engine.probe.clone()
        }),
        liveness_probe: Some(server.engine.probe.clone()),
        readiness_probe: Some(server.engine.probe),
        resources: Some(resources(server.spec)),
        security_context: Some(container_security()),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    let claim = volume_claim(
        ctx,
        DATA_CLAIM,
        component,
        server.spec.storage.clone(),
        server.spec.storage_class_name.clone(),
    );
    let pods = server.pods;
    let mut workload = StatefulSet {
        metadata: ctx.meta(&ctx.child(component), component),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(ctx.child(component)),
            selector: LabelSelector {
                match_labels: Some(ctx.selector(component)),
                match_expressions: None,
            },
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some("Retain".into()),
                    when_scaled: Some("Retain".into()),
                },
            ),
            volume_claim_templates: Some(vec![claim]),
            template: PodTemplateSpec {
                metadata: Some(ctx.pod_metadata(component, hash)),
                spec: Some(PodSpec {
                    termination_grace_period_seconds: Some(TERMINATION_GRACE_SECS),
                    ..locked_down_pod(server.engine.uid, vec![container], volumes)
                }),
            },
            ..StatefulSetSpec::default()
        }),
        status: None,
    };
    if let Some(spec) = workload.spec.as_mut() {
        customize(ctx, pods, &mut spec.template);
    }
    workload
}
