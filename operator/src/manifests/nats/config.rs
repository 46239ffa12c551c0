//! The rendered server config: `nats.conf` (ConfigMap), `routes.conf` and `users.conf`
//! (Secret), and the permissions behind the users.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use contract::deploy;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use super::{
    COMPONENT, CONFIG_FILE, DEFAULT_MAX_PAYLOAD, ENVELOPE_HEADROOM, LAME_DUCK_GRACE_SECS,
    LAME_DUCK_SECS, MAX_PAYLOAD_LIMIT, PID_FILE, ROUTE_USER, ROUTES_FILE, STORE_DIR, TLS_DIR,
    USERS_FILE, store_bytes,
};
use crate::error::Error;
use crate::manifests::SecretData;
use crate::manifests::common::{Ctx, secret_value};
use crate::manifests::connection::encode;
use crate::manifests::secrets::nats_users;

use contract::nats_users::quote;
pub use contract::nats_users::{Permissions, inbox_prefix};

/// The permissions of `user` in this stack (see [`contract::nats_users`], shared with
/// `make run`).
#[must_use]
pub fn permissions(ctx: &Ctx<'_>, user: &str) -> Permissions {
    let services: Vec<&str> = ctx.spec.services.iter().map(|s| s.name.as_str()).collect();
    contract::nats_users::permissions(user, &services)
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

/// The rendered `nats.conf` (no secrets: routes and users are included from the Secret).
#[must_use]
pub fn config(ctx: &Ctx<'_>) -> String {
    let mut conf = format!(
        "server_name: ${pod_name}\n\
         listen: 0.0.0.0:{client_port}\n\
         http: 0.0.0.0:{monitor_port}\n\
         pid_file: {}\n\
         lame_duck_duration: {LAME_DUCK_SECS}s\n\
         lame_duck_grace_period: {LAME_DUCK_GRACE_SECS}s\n\
         max_payload: {}\n",
        quote(PID_FILE),
        max_payload(ctx),
        pod_name = deploy::env::operator::POD_NAME,
        client_port = deploy::NATS_PORT,
        monitor_port = deploy::NATS_MONITOR_PORT,
    );
    // File storage on the server's volume, within what the volume holds. The memory store is
    // left at its default: only the ephemeral consumers' state lives there.
    let _ = writeln!(
        conf,
        "jetstream {{\n  store_dir: {}\n  max_file_store: {}\n}}",
        quote(STORE_DIR),
        store_bytes(ctx),
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
                "nats://{ROUTE_USER}:{}@{}-{i}.{}:{}",
                encode(password),
                ctx.child(COMPONENT),
                ctx.dns(&headless),
                deploy::NATS_CLUSTER_PORT,
            );
            format!("    {}", quote(&url))
        })
        .collect();
    Ok(format!(
        "cluster {{\n  name: {}\n  listen: 0.0.0.0:{cluster_port}\n  \
         authorization {{ user: {}, password: {}, timeout: 2 }}\n  \
         routes: [\n{}\n  ]\n}}\n",
        quote(&ctx.name),
        quote(ROUTE_USER),
        quote(password),
        routes.join("\n"),
        cluster_port = deploy::NATS_CLUSTER_PORT,
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
    let users = nats_users(ctx);
    let passwords = users
        .iter()
        .map(|user| secret_value(secrets, &ctx.nats_user_secret(user), "password"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(contract::nats_users::authorization(
        users
            .iter()
            .zip(passwords)
            .map(|(user, password)| (user.as_str(), password, permissions(ctx, user))),
    ))
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
