//! Secrets: the created-once credentials (what to generate when absent) and the Secrets derived
//! from them on every reconcile (connection URLs handed to services).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;

use super::common::{Ctx, LABEL_RETAIN, secret_value};
use super::{Child, SecretData};
use crate::crd::{DatabaseKind, DatabaseSpec, ServiceSpec};
use crate::error::Error;

/// Key of the JWT signing key in its Secret.
pub const JWT_KEY: &str = "private.pem";
/// Port of PostgreSQL.
pub const POSTGRES_PORT: i32 = 5432;
/// Port of MongoDB.
pub const MONGODB_PORT: i32 = 27017;

/// How the value of one key of a created-once Secret is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Generator {
    /// A fixed value.
    Literal(String),
    /// A random alphanumeric password of 32 characters.
    Password,
    /// A fresh Ed25519 private key, PKCS#8 PEM.
    Ed25519Pem,
}

/// A Secret created once if absent and never rewritten (rewriting would rotate credentials).
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratedSecret {
    /// Metadata (name, labels, ownerReference) of the Secret to create.
    pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    /// Keys and how to fill them.
    pub keys: BTreeMap<String, Generator>,
}

impl GeneratedSecret {
    fn new(ctx: &Ctx<'_>, name: &str, component: &str, retain: bool) -> Self {
        let mut metadata = ctx.meta(name, component);
        if retain {
            metadata
                .labels
                .get_or_insert_default()
                .insert(LABEL_RETAIN.into(), "true".into());
        }
        Self {
            metadata,
            keys: BTreeMap::new(),
        }
    }

    fn key(mut self, key: &str, generator: Generator) -> Self {
        self.keys.insert(key.to_owned(), generator);
        self
    }

    /// The Secret's name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }
}

/// Name of the Secret holding a service's database role.
#[must_use]
pub fn service_db_secret(ctx: &Ctx<'_>, service: &str) -> String {
    ctx.child(&format!("{service}-db"))
}

/// Name of the Secret holding a service's database URL (key `url`).
#[must_use]
pub fn service_url_secret(ctx: &Ctx<'_>, service: &str) -> String {
    ctx.child(&format!("{service}-db-url"))
}

/// Name of the managed server's admin Secret, or the user's Secret for an external server.
#[must_use]
pub fn admin_secret(ctx: &Ctx<'_>, kind: DatabaseKind) -> String {
    let (spec, component) = database(ctx, kind);
    spec.existing_secret
        .clone()
        .unwrap_or_else(|| ctx.child(&format!("{component}-admin")))
}

/// Name of the Secret holding the bootstrap admin password (key `password`).
#[must_use]
pub fn admin_password_secret(ctx: &Ctx<'_>) -> String {
    ctx.spec
        .auth
        .admin_password_secret
        .clone()
        .unwrap_or_else(|| ctx.child("admin"))
}

/// Database name of a service (its name, `-` replaced by `_`).
#[must_use]
pub fn database_name(service: &str) -> String {
    service.replace('-', "_")
}

/// Image of a database kind's server (also used by its provisioning Jobs for the client tools).
#[must_use]
pub fn database_image(ctx: &Ctx<'_>, kind: DatabaseKind) -> String {
    match kind {
        DatabaseKind::Mongodb => ctx.spec.mongodb.image_or("mongo:8.0"),
        DatabaseKind::Postgres | DatabaseKind::None => {
            ctx.spec.postgres.image_or("postgres:17-alpine")
        }
    }
}

/// The spec and component name of a database kind.
#[must_use]
pub fn database<'a>(ctx: &Ctx<'a>, kind: DatabaseKind) -> (&'a DatabaseSpec, &'static str) {
    match kind {
        DatabaseKind::Mongodb => (&ctx.spec.mongodb, "mongodb"),
        DatabaseKind::Postgres | DatabaseKind::None => (&ctx.spec.postgres, "postgres"),
    }
}

/// Whether the stack runs a service named `auth`.
#[must_use]
pub fn has_auth(ctx: &Ctx<'_>) -> bool {
    ctx.spec.services.iter().any(|s| s.name == "auth")
}

/// Components with their own NATS user: the gateway and every service.
#[must_use]
pub fn nats_users(ctx: &Ctx<'_>) -> Vec<String> {
    std::iter::once("gateway".to_owned())
        .chain(ctx.spec.services.iter().map(|s| s.name.clone()))
        .collect()
}

/// Every Secret to create if absent.
#[must_use]
pub fn generated(ctx: &Ctx<'_>) -> Vec<GeneratedSecret> {
    let mut out = Vec::new();
    if ctx.spec.nats.auth {
        for user in nats_users(ctx) {
            out.push(
                GeneratedSecret::new(ctx, &ctx.nats_user_secret(&user), &user, false)
                    .key("username", Generator::Literal(user.clone()))
                    .key("password", Generator::Password),
            );
        }
    }
    if ctx.spec.nats.replicas > 1 {
        out.push(
            GeneratedSecret::new(ctx, &super::nats::route_secret(ctx), "nats", false)
                .key(
                    "username",
                    Generator::Literal(super::nats::ROUTE_USER.into()),
                )
                .key("password", Generator::Password),
        );
    }
    for (kind, user) in [
        (DatabaseKind::Postgres, "postgres"),
        (DatabaseKind::Mongodb, "root"),
    ] {
        let (spec, component) = database(ctx, kind);
        if spec.is_managed() {
            out.push(
                GeneratedSecret::new(ctx, &admin_secret(ctx, kind), component, true)
                    .key("username", Generator::Literal(user.into()))
                    .key("password", Generator::Password),
            );
        }
    }
    for service in ctx
        .spec
        .services
        .iter()
        .filter(|s| s.database != DatabaseKind::None)
    {
        out.push(
            GeneratedSecret::new(
                ctx,
                &service_db_secret(ctx, &service.name),
                &service.name,
                true,
            )
            .key("username", Generator::Literal(service.name.clone()))
            .key("password", Generator::Password)
            .key("database", Generator::Literal(database_name(&service.name))),
        );
    }
    if has_auth(ctx) {
        out.push(
            GeneratedSecret::new(ctx, &ctx.child("jwt"), "auth", false)
                .key(JWT_KEY, Generator::Ed25519Pem),
        );
        if ctx.spec.auth.admin_password_secret.is_none() {
            out.push(
                GeneratedSecret::new(ctx, &admin_password_secret(ctx), "auth", false)
                    .key("password", Generator::Password),
            );
        }
    }
    out
}

/// User-supplied Secrets the stack reads (external servers, admin password).
#[must_use]
pub fn referenced(spec: &crate::crd::MicroserviceStackSpec) -> Vec<String> {
    [
        spec.postgres.existing_secret.clone(),
        spec.mongodb.existing_secret.clone(),
        spec.auth.admin_password_secret.clone(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Host and port of a database server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: String,
}

/// Where a database kind's server answers.
///
/// # Errors
/// [`Error::MissingSecretKey`] when an external server's Secret lacks `host`.
pub fn server(ctx: &Ctx<'_>, kind: DatabaseKind, secrets: &SecretData) -> Result<Server, Error> {
    let (spec, component) = database(ctx, kind);
    match &spec.existing_secret {
        Some(name) => Ok(Server {
            host: secret_value(secrets, name, "host")?.to_owned(),
            port: secrets
                .get(name)
                .and_then(|d| d.get("port"))
                .cloned()
                .unwrap_or_else(|| default_port(kind).to_string()),
        }),
        None => Ok(Server {
            host: ctx.dns(&ctx.child(component)),
            port: default_port(kind).to_string(),
        }),
    }
}

fn default_port(kind: DatabaseKind) -> i32 {
    if kind == DatabaseKind::Mongodb {
        MONGODB_PORT
    } else {
        POSTGRES_PORT
    }
}

/// The connection URL a service gets for its own database.
///
/// # Errors
/// [`Error::MissingSecretKey`] when a credential is missing.
pub fn service_url(
    ctx: &Ctx<'_>,
    service: &ServiceSpec,
    secrets: &SecretData,
) -> Result<String, Error> {
    let creds = service_db_secret(ctx, &service.name);
    let user = encode(secret_value(secrets, &creds, "username")?);
    let password = encode(secret_value(secrets, &creds, "password")?);
    let db = secret_value(secrets, &creds, "database")?;
    let Server { host, port } = server(ctx, service.database, secrets)?;
    Ok(match service.database {
        DatabaseKind::Mongodb => {
            format!("mongodb://{user}:{password}@{host}:{port}/{db}?authSource={db}")
        }
        _ => format!("postgres://{user}:{password}@{host}:{port}/{db}"),
    })
}

/// Secrets derived from resolved credentials: one database URL per service that has a database.
///
/// # Errors
/// [`Error::MissingSecretKey`] when a credential is missing.
pub fn derived(ctx: &Ctx<'_>, secrets: &SecretData) -> Result<Vec<Child>, Error> {
    ctx.spec
        .services
        .iter()
        .filter(|s| s.database != DatabaseKind::None)
        .map(|service| {
            let url = service_url(ctx, service, secrets)?;
            Ok(Child::Secret(Secret {
                metadata: ctx.meta(&service_url_secret(ctx, &service.name), &service.name),
                // `data`, not `stringData`: the latter is write-only and fights server-side apply.
                data: Some(BTreeMap::from([(
                    "url".to_owned(),
                    ByteString(url.into_bytes()),
                )])),
                type_: Some("Opaque".into()),
                ..Secret::default()
            }))
        })
        .collect()
}

/// Percent-encodes a URL userinfo component.
pub(crate) fn encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
