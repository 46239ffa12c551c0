//! A backend service: Deployment (env contract, probes, security, config hash), its
//! HorizontalPodAutoscaler when it sets `autoscaling`, a Service for its health and metrics
//! port, and a PDB when it may run more than one pod.

use contract::deploy;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, PodSpec, PodTemplateSpec, ResourceRequirements,
    SecretVolumeSource, Service, ServicePort, ServiceSpec as K8sServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::common::{Ctx, config_hash, env, env_secret, secret_parts};
use super::connection::{endpoint, service_url};
use super::pods::{
    container_security, customize, locked_down_pod, memory_bytes, resources_or, scratch,
    with_health_probes,
};
use super::secrets::{JWT_KEY, admin_password_secret, service_db_secret, service_url_secret};
use super::{Child, SecretData};
use super::{autoscaling, mongodb_community, postgres};
use crate::crd::{DatabaseKind, PodsOf, ServiceSpec};
use crate::error::Error;

/// Where auth reads its signing key.
pub const JWT_DIR: &str = "/var/run/secrets/natstack/jwt";
/// User id the natstack images run as (distroless `nonroot`, the Dockerfile's `USER`).
pub const APP_UID: i64 = 65532;
pub use contract::deploy::argon2_slots;
/// Everything that varies between the service and gateway Deployments.
#[derive(Clone, Debug)]
pub struct App {
    /// Component name.
    pub component: String,
    /// Image.
    pub image: String,
    /// Replicas; `None` when a HorizontalPodAutoscaler owns them.
    pub replicas: Option<i32>,
    /// Full container env.
    pub env: Vec<EnvVar>,
    /// Compute resources.
    pub resources: ResourceRequirements,
    /// Extra container ports besides `health`.
    pub ports: Vec<ContainerPort>,
    /// Extra volumes and their mounts.
    pub volumes: Vec<(Volume, VolumeMount)>,
    /// Config hash annotation value.
    pub hash: String,
}

/// Deployment, Service and PDB of one backend service.
///
/// # Errors
/// [`Error::MissingSecretKey`] when a credential the service needs is missing.
pub fn children(
    ctx: &Ctx<'_>,
    service: &ServiceSpec,
    secrets: &SecretData,
) -> Result<Vec<Child>, Error> {
    let name = service.name.as_str();
    let mut env_vars = ctx.shared_env(name);
    let mut referenced = vec![ctx.nats_user_secret(name)];
    let mut extra_hash = Vec::new();
    let mut volumes = Vec::new();
    match service.database {
        DatabaseKind::Postgres => {
            env_vars.push(env_secret(
                deploy::env::DATABASE_URL,
                &service_url_secret(ctx, name),
                "url",
            ));
            env_vars.push(env(
                deploy::env::DATABASE_MAX_CONNECTIONS,
                &postgres::pool_size(ctx).to_string(),
            ));
            extra_hash.push(service_url(ctx, service, secrets)?);
        }
        DatabaseKind::Mongodb if mongodb_community::enabled(ctx) => {
            // The MongoDB operator publishes the replica set's connection string (with the
            // password) once the user exists; the pod waits for that Secret. The password's
            // own Secret is in the hash, so a new password rolls the pods onto the new string.
            env_vars.push(env_secret(
                deploy::env::MONGODB_URL,
                &mongodb_community::connection_secret(ctx, name),
                mongodb_community::CONNECTION_KEY,
            ));
            referenced.push(service_db_secret(ctx, name));
        }
        DatabaseKind::Mongodb => {
            env_vars.push(env_secret(
                deploy::env::MONGODB_URL,
                &service_url_secret(ctx, name),
                "url",
            ));
            extra_hash.push(service_url(ctx, service, secrets)?);
        }
        DatabaseKind::None => {}
    }
    if service.database != DatabaseKind::None {
        let db_server = endpoint(ctx, service.database, secrets)?;
        extra_hash.extend(db_server.ca.clone());
        volumes.extend(db_server.ca_volume());
    }
    if name == deploy::AUTH {
        let jwt = ctx.child("jwt");
        let admin = admin_password_secret(ctx);
        env_vars.extend([
            env(
                deploy::env::JWT_PRIVATE_KEY_FILE,
                &format!("{JWT_DIR}/{JWT_KEY}"),
            ),
            env(deploy::env::ADMIN_EMAIL, &ctx.spec.auth.admin_email),
            env_secret(deploy::env::ADMIN_PASSWORD, &admin, "password"),
        ]);
        volumes.push((
            Volume {
                name: "jwt".into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(jwt.clone()),
                    default_mode: Some(0o440),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            },
            VolumeMount {
                name: "jwt".into(),
                mount_path: JWT_DIR.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
        ));
        env_vars.extend(ctx.token_env());
        referenced.extend([jwt, admin]);
    }
    let resources = resources_or(service.resources.as_ref(), "50m", "1", "128Mi");
    if name == deploy::AUTH && !service.env.contains_key(deploy::env::ARGON2_MAX_CONCURRENT) {
        env_vars.extend(argon2_bound(service, &resources));
    }
    let taken: Vec<String> = env_vars.iter().map(|e| e.name.clone()).collect();
    env_vars.extend(
        service
            .env
            .iter()
            .filter(|(k, _)| !taken.contains(k))
            .map(|(k, v)| env(k, v)),
    );
    let app = App {
        component: name.to_owned(),
        image: ctx.image(name, service.image.as_ref()),
        replicas: autoscaling::replicas(service.replicas, service.autoscaling.as_ref()),
        hash: hash(&env_vars, secrets, &referenced, &extra_hash),
        env: env_vars,
        resources,
        ports: Vec::new(),
        volumes,
    };
    let mut workload = deployment(ctx, app);
    if let Some(spec) = workload.spec.as_mut() {
        customize(ctx, PodsOf::Service(name), &mut spec.template);
    }
    let mut out = vec![Child::Deployment(workload)];
    out.extend(
        service
            .autoscaling
            .as_ref()
            .map(|scaling| Child::Hpa(autoscaling::hpa(ctx, name, scaling))),
    );
    out.push(Child::Service(health_service(ctx, &ctx.child(name), name)));
    let most = autoscaling::most_pods(service.replicas, service.autoscaling.as_ref());
    out.extend(ctx.pdb(name, most).map(Child::Pdb));
    Ok(out)
}

/// `ARGON2_MAX_CONCURRENT` sized to auth's memory limit (each hash holds `ARGON2_MEMORY_KIB`
/// for its whole run, and by default auth would run one per core of the node); nothing when
/// the container has no memory limit (auth then bounds itself by its cgroup and core count).
fn argon2_bound(service: &ServiceSpec, resources: &ResourceRequirements) -> Option<EnvVar> {
    let limit = resources.limits.as_ref()?.get("memory")?;
    let limit = memory_bytes(limit)?;
    let memory_kib = service
        .env
        .get(deploy::env::ARGON2_MEMORY_KIB)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(u64::from(deploy::DEFAULT_ARGON2_MEMORY_KIB));
    Some(env(
        deploy::env::ARGON2_MAX_CONCURRENT,
        &argon2_slots(limit, memory_kib).to_string(),
    ))
}

/// The config hash of a Deployment: its env, the data of every Secret it references, and
/// derived values (URLs).
#[must_use]
pub fn hash(
    env_vars: &[EnvVar],
    secrets: &SecretData,
    referenced: &[String],
    extra: &[String],
) -> String {
    let rendered = serde_json::to_string(env_vars).unwrap_or_default();
    let mut parts = vec![("env", rendered.as_str())];
    parts.extend(secret_parts(secrets, referenced));
    parts.extend(extra.iter().map(|e| ("derived", e.as_str())));
    config_hash(parts)
}

/// Name of the health port (`/livez`, `/readyz`, `/metrics`) on every natstack pod and
/// Service; the ServiceMonitors scrape it by this name.
pub const HEALTH_PORT_NAME: &str = "health";

/// A ClusterIP Service named `name` for `component`'s health and metrics port (in-cluster only).
#[must_use]
pub fn health_service(ctx: &Ctx<'_>, name: &str, component: &str) -> Service {
    Service {
        metadata: ctx.meta(name, component),
        spec: Some(K8sServiceSpec {
            selector: Some(ctx.selector(component)),
            ports: Some(vec![ServicePort {
                name: Some(HEALTH_PORT_NAME.into()),
                port: deploy::HEALTH_PORT.into(),
                target_port: Some(IntOrString::String(HEALTH_PORT_NAME.into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            type_: Some("ClusterIP".into()),
            ..K8sServiceSpec::default()
        }),
        status: None,
    }
}

/// A hardened Deployment of a natstack binary.
#[must_use]
pub fn deployment(ctx: &Ctx<'_>, app: App) -> Deployment {
    let (tmp, tmp_mount) = scratch("tmp", "/tmp");
    let (mut volumes, mut mounts): (Vec<_>, Vec<_>) = app
        .volumes
        .into_iter()
        .chain(super::nats::client_ca_volume(ctx))
        .unzip();
    volumes.push(tmp);
    mounts.push(tmp_mount);
    let mut ports = vec![ContainerPort {
        name: Some(HEALTH_PORT_NAME.into()),
        container_port: deploy::HEALTH_PORT.into(),
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    }];
    ports.extend(app.ports);
    let container = with_health_probes(Container {
        name: app.component.clone(),
        image: Some(app.image),
        image_pull_policy: Some("IfNotPresent".into()),
        env: Some(app.env),
        ports: Some(ports),
        resources: Some(app.resources),
        security_context: Some(container_security()),
        volume_mounts: Some(mounts),
        ..Container::default()
    });
    Deployment {
        metadata: ctx.meta(&ctx.child(&app.component), &app.component),
        spec: Some(DeploymentSpec {
            replicas: app.replicas,
            selector: LabelSelector {
                match_labels: Some(ctx.selector(&app.component)),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(ctx.pod_metadata(&app.component, app.hash)),
                spec: Some(PodSpec {
                    topology_spread_constraints: Some(vec![ctx.spread(&app.component)]),
                    ..locked_down_pod(APP_UID, vec![container], volumes)
                }),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}
