//! NATS: the server config, a StatefulSet, a client Service, a headless Service and a PDB.
//!
//! Every server runs JetStream with its store on its own volume ([`DATA_CLAIM`], sized from
//! `spec.events.retention.maxBytes` plus [`STORE_HEADROOM`]); with three servers the existing
//! routes carry JetStream's clustering, and the stream has three replicas
//! ([`contract::events::StreamSettings::replicas_for`]). The stream itself is created by the
//! gateway from the settings [`stream_settings`] gives it.
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
//! pod of a cluster runs lame-duck mode first (a preStop hook) so clients move to another
//! server; a single server stops at once (its clients have nowhere else to go).
//!
//! `config` renders the three files and the permissions; `workload` builds the StatefulSet and
//! the Services; this module holds the paths and limits both share, and what NATS clients
//! (the service and gateway Deployments) need: the URL and, with TLS, the CA.

mod config;
mod workload;

use contract::deploy;
use k8s_openapi::api::core::v1::{KeyToPath, SecretVolumeSource, Volume, VolumeMount};

pub use config::{
    Permissions, config, config_map, inbox_prefix, max_payload, permissions, route_secret,
    routes_config, server_secret, users_config,
};
pub use workload::reload_script;

/// The `EVENTS` stream's settings in this stack: the retention of `spec.events` (validation
/// refuses a malformed one; the contract's defaults stand in), replicated as NATS is.
#[must_use]
pub fn stream_settings(ctx: &Ctx<'_>) -> contract::events::StreamSettings {
    let retention = &ctx.spec.events.retention;
    let defaults = contract::events::StreamSettings::default();
    contract::events::StreamSettings {
        max_age_secs: retention.max_age_secs().unwrap_or(defaults.max_age_secs),
        max_bytes: retention.max_bytes().unwrap_or(defaults.max_bytes),
        replicas: contract::events::StreamSettings::replicas_for(
            u32::try_from(ctx.spec.nats.replicas).unwrap_or(1),
        ),
    }
}

/// The size of each server's volume, and JetStream's `max_file_store` on it: the stream's
/// bytes plus [`STORE_HEADROOM`].
#[must_use]
pub fn store_bytes(ctx: &Ctx<'_>) -> i64 {
    stream_settings(ctx)
        .max_bytes
        .saturating_add(STORE_HEADROOM)
}

use super::common::Ctx;
use super::{Child, SecretData};
use crate::error::Error;

/// Component name (labels, child names).
pub(crate) const COMPONENT: &str = deploy::NATS;
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
/// Where each server's volume (its `data` claim) is mounted.
pub const DATA_DIR: &str = "/data";
/// JetStream's store on that volume.
pub const STORE_DIR: &str = "/data/jetstream";
/// The volume claim of each server.
pub const DATA_CLAIM: &str = "data";
/// Room on the volume beyond the stream's `maxBytes`: JetStream's indexes, the meta-group's
/// state and the ephemeral consumers' files.
pub const STORE_HEADROOM: i64 = 256 * 1024 * 1024;
/// User name of the route credential.
pub const ROUTE_USER: &str = "route";
pub use contract::deploy::env::{NATS_CA_FILE, NATS_INBOX_PREFIX};
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

/// The least memory of a NATS server without resources in the spec.
pub const MEMORY_FLOOR: u64 = 128 * 1024 * 1024;
/// The server's own memory besides messages (connections, subscriptions, the users config).
pub const MEMORY_BASE: u64 = 64 * 1024 * 1024;
/// Largest messages the default memory holds at once: a request or reply is held twice (in
/// the sender's read buffer and the receiver's pending buffer), for a few requests in flight
/// at once (the gateway holds several bodies at a time: its body budget).
pub const MESSAGES_HELD: u64 = 8;

/// The memory request and limit of a NATS server when the spec sets no resources:
/// [`MEMORY_BASE`] plus [`MESSAGES_HELD`] messages of `max_payload`, at least
/// [`MEMORY_FLOOR`], in MiB. With the default 1 MiB body it is the floor; with the largest
/// `maxBodyBytes` (64 MiB) 576Mi, so a large upload is not an OOM kill of the server.
#[must_use]
pub fn default_memory(ctx: &Ctx<'_>) -> String {
    const MIB: u64 = 1024 * 1024;
    let payload = u64::try_from(max_payload(ctx)).unwrap_or(0);
    let bytes = MEMORY_BASE
        .saturating_add(MESSAGES_HELD.saturating_mul(payload))
        .max(MEMORY_FLOOR);
    format!("{}Mi", bytes.div_ceil(MIB))
}

/// The client URL: `tls://` when TLS is on.
#[must_use]
pub fn client_url(ctx: &Ctx<'_>) -> String {
    let scheme = if ctx.spec.nats.tls.is_some() {
        "tls"
    } else {
        "nats"
    };
    format!(
        "{scheme}://{}:{}",
        ctx.dns(&ctx.child(COMPONENT)),
        deploy::NATS_PORT
    )
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

/// The Secret, StatefulSet, Services and PDB of NATS.
///
/// # Errors
/// [`Error::MissingSecretKey`] when a credential is missing.
pub fn children(ctx: &Ctx<'_>, secrets: &SecretData) -> Result<Vec<Child>, Error> {
    let routes = routes_config(ctx, secrets)?;
    let mut out = vec![
        Child::Secret(server_secret(ctx, secrets)?),
        Child::Service(workload::service(ctx, false)),
        Child::Service(workload::service(ctx, true)),
        Child::StatefulSet(workload::stateful_set(ctx, &routes)),
    ];
    out.extend(ctx.pdb(COMPONENT, ctx.spec.nats.replicas).map(Child::Pdb));
    Ok(out)
}

fn read_only_mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: Some(true),
        ..VolumeMount::default()
    }
}
