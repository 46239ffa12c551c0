//! NATS: the server config, a StatefulSet, a client Service, a headless Service and a PDB.
//!
//! The config is split by what a change needs:
//!
//! - the ConfigMap's `nats.conf` (ports, limits, lame duck, TLS) holds no secret; a change
//!   rolls the pods through the config hash;
//! - the Secret's `routes.conf` is the cluster block with the route credential (route URLs
//!   carry it, and nats-server expands no variables inside strings); it is hashed too;
//! - the Secret's `users.conf` is one user per component with its subject permissions. It is
//!   *not* hashed: adding a service adds a user, and the `reloader` sidecar sends the server
//!   SIGHUP (`nats-server --signal reload`) once the kubelet has updated the mounted files, so
//!   the servers and their clients stay up.
//!
//! The pods share their process namespace so the sidecar can signal the server, and stopping a
//! pod runs lame-duck mode first (a preStop hook) so clients move to another server.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource, ExecAction,
    KeyToPath, Lifecycle, LifecycleHandler, ObjectFieldSelector, PodSpec, PodTemplateSpec, Secret,
    SecretVolumeSource, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::common::{
    CONFIG_HASH, Ctx, NATS_PORT, config_hash, container_security, http_probe, pod_security,
    resources_or, scratch, secret_value,
};
use super::secrets::{encode, nats_users};
use super::{Child, SecretData};
use crate::error::Error;

const COMPONENT: &str = "nats";
const CLUSTER_PORT: i32 = 6222;
/// Port of the monitoring endpoint (`/healthz`, `/routez`, ...); on the headless Service only.
pub const MONITOR_PORT: i32 = 8222;
/// The server config in the ConfigMap.
pub const CONFIG_FILE: &str = "nats.conf";
/// The cluster block in the Secret.
pub const ROUTES_FILE: &str = "routes.conf";
/// The users and permissions in the Secret.
pub const USERS_FILE: &str = "users.conf";
/// Where the ConfigMap is mounted; `nats.conf` includes `../secret/*.conf`.
pub const CONFIG_DIR: &str = "/etc/nats/config";
/// Where the Secret is mounted.
pub const SECRET_DIR: &str = "/etc/nats/secret";
/// Where the server certificate Secret is mounted when TLS is on.
pub const TLS_DIR: &str = "/etc/nats/tls";
/// The server's pid file (in an `emptyDir` shared with the reloader).
pub const PID_FILE: &str = "/var/run/nats/nats.pid";
/// Where clients read the CA that signed the server certificate (`NATS_CA_FILE`).
pub const CLIENT_CA_DIR: &str = "/var/run/secrets/natstack/nats-ca";
/// User name of the route credential.
pub const ROUTE_USER: &str = "route";
/// Env var: the prefix of a component's reply inboxes.
pub const NATS_INBOX_PREFIX: &str = "NATS_INBOX_PREFIX";
/// Env var: the CA file a client trusts for the NATS server's certificate.
pub const NATS_CA_FILE: &str = "NATS_CA_FILE";
/// How long lame-duck mode spreads client disconnects (nats-server's minimum is 30 s).
pub const LAME_DUCK_SECS: i64 = 30;
/// Wait before lame-duck mode starts closing clients.
pub const LAME_DUCK_GRACE_SECS: i64 = 10;
/// The pod's termination grace: lame duck must finish before the kubelet kills the server.
pub const TERMINATION_GRACE_SECS: i64 = LAME_DUCK_SECS + LAME_DUCK_GRACE_SECS + 20;
/// The hard limit of nats-server's `max_payload`.
pub const MAX_PAYLOAD_LIMIT: i64 = 64 * 1024 * 1024;
/// nats-server's default `max_payload`, the floor (service replies need room too).
pub const DEFAULT_MAX_PAYLOAD: i64 = 1024 * 1024;
/// Room for the request envelope (params, query) and headers around a request body.
pub const ENVELOPE_HEADROOM: i64 = 64 * 1024;
/// The largest `gateway.maxBodyBytes` whose requests still fit in a NATS message.
pub const MAX_BODY_LIMIT: i64 = MAX_PAYLOAD_LIMIT - ENVELOPE_HEADROOM;
/// Seconds between the reloader's looks at the mounted config.
pub const RELOAD_POLL_SECS: u32 = 10;

/// Subjects a component may publish to and subscribe on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permissions {
    /// Allowed publish subjects.
    pub publish: Vec<String>,
    /// Allowed subscribe subjects.
    pub subscribe: Vec<String>,
    /// May reply (once) to the reply subject of a request it received, and publish nothing else.
    pub allow_responses: bool,
}

/// The prefix of `user`'s reply inboxes: `_INBOX_<user>`, subscribable by that user alone.
#[must_use]
pub fn inbox_prefix(user: &str) -> String {
    format!("_INBOX_{user}")
}

/// The permissions of `user`. The gateway calls every service and discovery and reads its own
/// inbox; a service serves `<name>.>` and its Services API subjects and may only answer the
/// requests it receives, so it can neither read nor write anyone else's replies.
#[must_use]
pub fn permissions(ctx: &Ctx<'_>, user: &str) -> Permissions {
    let inbox = format!("{}.>", inbox_prefix(user));
    if user == "gateway" {
        // `auth.jwks` even without an auth service: the gateway then hears "no responders"
        // at once instead of a permission error and a timeout.
        let mut publish = vec!["$SRV.>".to_owned(), "auth.jwks".to_owned()];
        publish.extend(ctx.spec.services.iter().map(|s| format!("{}.>", s.name)));
        Permissions {
            publish,
            subscribe: vec![inbox],
            allow_responses: false,
        }
    } else {
        Permissions {
            publish: Vec::new(),
            subscribe: vec![
                format!("{user}.>"),
                // `$SRV.<verb>`, `$SRV.<verb>.<name>` and `$SRV.<verb>.<name>.<id>` (ADR-32).
                "$SRV.*".into(),
                format!("$SRV.*.{user}"),
                format!("$SRV.*.{user}.*"),
                inbox,
            ],
            allow_responses: true,
        }
    }
}

/// The `max_payload` that fits the gateway's largest body in one request: the body plus the
/// envelope headroom, at least nats-server's default and at most its hard limit.
#[must_use]
pub fn max_payload(ctx: &Ctx<'_>) -> i64 {
    (ctx.spec.gateway.max_body_bytes + ENVELOPE_HEADROOM)
        .clamp(DEFAULT_MAX_PAYLOAD, MAX_PAYLOAD_LIMIT)
}

/// Name of the created-once Secret holding the route credential (clustered NATS only). The
/// suffix is longer than a service name may be, so no service's NATS user Secret takes it.
#[must_use]
pub fn route_secret(ctx: &Ctx<'_>) -> String {
    ctx.child("nats-cluster-route-credentials")
}

/// The client URL: `tls://` when TLS is on.
#[must_use]
pub fn client_url(ctx: &Ctx<'_>) -> String {
    let scheme = if ctx.spec.nats.tls.is_some() {
        "tls"
    } else {
        "nats"
    };
    format!("{scheme}://{}:{NATS_PORT}", ctx.dns(&ctx.child(COMPONENT)))
}

/// The CA volume every NATS client mounts when TLS is on (`ca.crt` only, never the key).
#[must_use]
pub fn client_ca_volume(ctx: &Ctx<'_>) -> Option<(Volume, VolumeMount)> {
    let tls = ctx.spec.nats.tls.as_ref()?;
    Some((
        Volume {
            name: "nats-ca".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(tls.secret_name.clone()),
                items: Some(vec![KeyToPath {
                    key: "ca.crt".into(),
                    path: "ca.crt".into(),
                    mode: None,
                }]),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        },
        read_only_mount("nats-ca", CLIENT_CA_DIR),
    ))
}

/// The CA file path clients read when TLS is on.
#[must_use]
pub fn client_ca_file(ctx: &Ctx<'_>) -> Option<String> {
    ctx.spec
        .nats
        .tls
        .as_ref()
        .map(|_| format!("{CLIENT_CA_DIR}/ca.crt"))
}

/// The rendered `nats.conf` (no secrets: routes and users are included from the Secret).
#[must_use]
pub fn config(ctx: &Ctx<'_>) -> String {
    let mut conf = format!(
        "server_name: $POD_NAME\n\
         listen: 0.0.0.0:{NATS_PORT}\n\
         http: 0.0.0.0:{MONITOR_PORT}\n\
         pid_file: {}\n\
         lame_duck_duration: {LAME_DUCK_SECS}s\n\
         lame_duck_grace_period: {LAME_DUCK_GRACE_SECS}s\n\
         max_payload: {}\n",
        quote(PID_FILE),
        max_payload(ctx),
    );
    if ctx.spec.nats.tls.is_some() {
        let _ = writeln!(
            conf,
            "tls {{\n  cert_file: {}\n  key_file: {}\n  timeout: 5\n}}",
            quote(&format!("{TLS_DIR}/tls.crt")),
            quote(&format!("{TLS_DIR}/tls.key")),
        );
    }
    // Include paths are relative to this file; absolute ones would be joined onto its folder.
    let _ = writeln!(conf, "include \"../secret/{ROUTES_FILE}\"");
    let _ = writeln!(conf, "include \"../secret/{USERS_FILE}\"");
    conf
}

/// The rendered `routes.conf`: the cluster block, each route URL carrying the credential.
///
/// # Errors
/// [`Error::MissingSecretKey`] when the route credential is missing.
pub fn routes_config(ctx: &Ctx<'_>, secrets: &SecretData) -> Result<String, Error> {
    let nats = &ctx.spec.nats;
    if nats.replicas <= 1 {
        return Ok("# A single server: no cluster.\n".to_owned());
    }
    let password = secret_value(secrets, &route_secret(ctx), "password")?;
    let headless = ctx.child("nats-headless");
    let routes: Vec<String> = (0..nats.replicas)
        .map(|i| {
            let url = format!(
                "nats://{ROUTE_USER}:{}@{}-{i}.{}:{CLUSTER_PORT}",
                encode(password),
                ctx.child(COMPONENT),
                ctx.dns(&headless)
            );
            format!("    {}", quote(&url))
        })
        .collect();
    Ok(format!(
        "cluster {{\n  name: {}\n  listen: 0.0.0.0:{CLUSTER_PORT}\n  \
         authorization {{ user: {}, password: {}, timeout: 2 }}\n  \
         routes: [\n{}\n  ]\n}}\n",
        quote(&ctx.name),
        quote(ROUTE_USER),
        quote(password),
        routes.join("\n")
    ))
}

/// The rendered `users.conf`: one user per component with its permissions.
///
/// # Errors
/// [`Error::MissingSecretKey`] when a component's NATS password is missing.
pub fn users_config(ctx: &Ctx<'_>, secrets: &SecretData) -> Result<String, Error> {
    if !ctx.spec.nats.auth {
        return Ok("# NATS auth is off: clients connect without credentials.\n".to_owned());
    }
    let mut conf = String::from("authorization {\n  users: [\n");
    for user in nats_users(ctx) {
        let password = secret_value(secrets, &ctx.nats_user_secret(&user), "password")?;
        let p = permissions(ctx, &user);
        let mut rules = Vec::new();
        if !p.publish.is_empty() {
            rules.push(format!("publish: {{ allow: {} }}", list(&p.publish)));
        }
        rules.push(format!("subscribe: {{ allow: {} }}", list(&p.subscribe)));
        if p.allow_responses {
            rules.push("allow_responses: true".to_owned());
        }
        let _ = writeln!(
            conf,
            "    {{ user: {}, password: {}, permissions: {{ {} }} }}",
            quote(&user),
            quote(password),
            rules.join(", "),
        );
    }
    conf.push_str("  ]\n}\n");
    Ok(conf)
}

/// A double-quoted config string (JSON escaping, which nats-server's parser reads).
fn quote(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
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

/// The Secret holding `routes.conf` and `users.conf`, rendered on every reconcile from the
/// created-once credentials. Named like the ConfigMap (another kind, so no clash).
///
/// # Errors
/// [`Error::MissingSecretKey`] when a credential is missing.
pub fn server_secret(ctx: &Ctx<'_>, secrets: &SecretData) -> Result<Secret, Error> {
    let file = |text: String| ByteString(text.into_bytes());
    Ok(Secret {
        metadata: ctx.meta(&ctx.child(COMPONENT), COMPONENT),
        data: Some(BTreeMap::from([
            (ROUTES_FILE.to_owned(), file(routes_config(ctx, secrets)?)),
            (USERS_FILE.to_owned(), file(users_config(ctx, secrets)?)),
        ])),
        type_: Some("Opaque".into()),
        ..Secret::default()
    })
}

/// The Secret, StatefulSet, Services and PDB of NATS.
///
/// # Errors
/// [`Error::MissingSecretKey`] when a credential is missing.
pub fn children(ctx: &Ctx<'_>, secrets: &SecretData) -> Result<Vec<Child>, Error> {
    let routes = routes_config(ctx, secrets)?;
    let mut out = vec![
        Child::Secret(server_secret(ctx, secrets)?),
        Child::Service(service(ctx, false)),
        Child::Service(service(ctx, true)),
        Child::StatefulSet(stateful_set(ctx, &routes)),
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
    // The monitor port is listed on the headless Service only (in-cluster pod DNS, never a
    // NodePort or LoadBalancer); clients see the client port alone.
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

fn read_only_mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: Some(true),
        ..VolumeMount::default()
    }
}

/// The reloader's script: when the checksum of the mounted config (and certificate) changes,
/// signal the server to reload; a failed signal (server not up yet) is retried next round.
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
         while :; do\n\
         \x20 sleep {RELOAD_POLL_SECS} & wait $!\n\
         \x20 now=$(sum)\n\
         \x20 if [ \"$now\" != \"$last\" ] && nats-server --signal reload={PID_FILE}; then last=$now; fi\n\
         done\n"
    )
}

fn stateful_set(ctx: &Ctx<'_>, routes: &str) -> StatefulSet {
    let nats = &ctx.spec.nats;
    let rendered = config(ctx);
    // Users are left out on purpose: they are reloaded, not rolled.
    let hash = config_hash([(CONFIG_FILE, rendered.as_str()), (ROUTES_FILE, routes)]);

    let env = vec![EnvVar {
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
    let port = |name: &str, port: i32| ContainerPort {
        name: Some(name.to_owned()),
        container_port: port,
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
            port("client", NATS_PORT),
            port("cluster", CLUSTER_PORT),
            port("monitor", MONITOR_PORT),
        ]),
        env: Some(env),
        liveness_probe: Some(http_probe("/healthz", MONITOR_PORT, 10)),
        readiness_probe: Some(http_probe("/healthz", MONITOR_PORT, 5)),
        // Lame duck: stop accepting clients and spread their disconnects over the duration.
        // The server ignores the SIGTERM that follows while lame duck runs.
        lifecycle: Some(Lifecycle {
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
        resources: Some(resources_or(nats.resources.as_ref(), "50m", "128Mi")),
        security_context: Some(container_security()),
        volume_mounts: Some(mounts.clone()),
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
        resources: Some(resources_or(None, "5m", "32Mi")),
        security_context: Some(container_security()),
        volume_mounts: Some(mounts),
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
                    containers: vec![server, reloader],
                    // The reloader signals the server through the shared pid namespace.
                    share_process_namespace: Some(true),
                    security_context: Some(pod_security(1000)),
                    enable_service_links: Some(false),
                    automount_service_account_token: Some(false),
                    termination_grace_period_seconds: Some(TERMINATION_GRACE_SECS),
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..StatefulSetSpec::default()
        }),
        status: None,
    }
}
