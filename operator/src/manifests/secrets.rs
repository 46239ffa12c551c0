//! Secrets: the created-once credentials (what to generate when absent), their names, and
//! which user-supplied Secrets a stack reads. The connection URLs derived from them are
//! [`super::connection`]'s.

use std::collections::BTreeMap;

use contract::deploy;

use super::common::{Ctx, LABEL_RETAIN, config_hash};
use crate::crd::{DatabaseKind, DatabaseProvider, DatabaseSpec, ServiceSpec};

/// Key of the JWT signing key in its Secret.
pub const JWT_KEY: &str = "private.pem";
/// Longest role, user and database name: PostgreSQL's identifier limit (63 bytes), which also
/// keeps MongoDB database names under their 64-byte limit.
pub const NAME_MAX: usize = 63;
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

/// Key of a service's database Secret holding the random id its provisioning Job marks the
/// role and database with; Secrets made before it existed lack it.
pub const OWNER_KEY: &str = "owner";

/// A Secret created once if absent and never rewritten (rewriting would rotate credentials).
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratedSecret {
    /// Metadata (name, labels, ownerReference) of the Secret to create.
    pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    /// Keys and how to fill them.
    pub keys: BTreeMap<String, Generator>,
    /// The PersistentVolumeClaim whose data these credentials unlock (a managed database
    /// server's volume): while it exists, a missing Secret must not be generated afresh, since
    /// the data keeps the old password. `None` when the operator cannot see the data (an
    /// external server) or nothing keeps it.
    pub protects: Option<String>,
    /// The Secret's `type` (`Opaque`, or `kubernetes.io/basic-auth` where CloudNativePG reads
    /// it as a role's password). Fixed once created, like the data.
    pub type_: &'static str,
}

/// The `type` of most created-once Secrets.
pub const OPAQUE: &str = "Opaque";
/// The `type` of a Secret holding `username` and `password`, the shape CNPG requires of a
/// role's `passwordSecret`.
pub const BASIC_AUTH: &str = "kubernetes.io/basic-auth";

impl GeneratedSecret {
    /// A retained Secret has no ownerReference: deleting the stack must not delete the
    /// credentials its kept database volumes (or an external server) still hold.
    fn new(ctx: &Ctx<'_>, name: &str, component: &str, retain: bool) -> Self {
        let mut metadata = ctx.meta(name, component);
        if retain {
            metadata
                .labels
                .get_or_insert_default()
                .insert(LABEL_RETAIN.into(), "true".into());
            metadata.owner_references = None;
        }
        Self {
            metadata,
            keys: BTreeMap::new(),
            protects: None,
            type_: OPAQUE,
        }
    }

    /// Marks the credentials as unlocking the data of the managed `kind` server's volume, when
    /// the stack runs that server.
    fn protecting(mut self, ctx: &Ctx<'_>, kind: DatabaseKind) -> Self {
        let (spec, component) = database(ctx, kind);
        self.protects = spec
            .is_managed()
            .then(|| super::database::data_claim(ctx, component));
        self
    }

    /// Gives the credentials of a service whose database CNPG runs the shape CNPG reads a
    /// role's password from: a basic-auth Secret, labelled so that CNPG reloads a change.
    fn for_engine(mut self, ctx: &Ctx<'_>, kind: DatabaseKind) -> Self {
        if kind == DatabaseKind::Postgres && super::cnpg::enabled(ctx) {
            self.type_ = BASIC_AUTH;
            self.metadata
                .labels
                .get_or_insert_default()
                .insert(super::cnpg::RELOAD_LABEL.into(), "true".into());
        }
        self
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

    /// Whether the Secret outlives the stack (labelled `natstack.dev/retain`, no ownerReference).
    #[must_use]
    pub fn is_retained(&self) -> bool {
        self.metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.get(LABEL_RETAIN).is_some_and(|v| v == "true"))
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

/// Database name of a service on the stack's own server (its name, `-` replaced by `_`).
#[must_use]
pub fn database_name(service: &str) -> String {
    service.replace('-', "_")
}

/// Role, user and database name of a service on a server other stacks may share:
/// `<namespace>_<stack>_<service>`. Kubernetes names never contain `_`, so the separator keeps
/// distinct stacks distinct; characters other than `[a-z0-9-]` (a `.` in a stack name) become
/// `-`. Longer than [`NAME_MAX`], the name keeps its head and ends in `_` and 8 hex digits of a
/// hash of the whole name.
#[must_use]
pub fn shared_name(namespace: &str, stack: &str, service: &str) -> String {
    let full = format!("{namespace}_{stack}_{service}");
    let clean: String = full
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    if clean.len() <= NAME_MAX {
        return clean;
    }
    let hash = config_hash([("name", full.as_str())]);
    format!("{}_{}", &clean[..NAME_MAX - 9], &hash[..8])
}

/// Role/user and database name of a service, as first written to its created-once Secret:
/// bare on the stack's own server, namespaced ([`shared_name`]) on an external server.
#[must_use]
pub fn service_db_names(ctx: &Ctx<'_>, service: &ServiceSpec) -> (String, String) {
    let (spec, _) = database(ctx, service.database);
    if spec.existing_secret.is_some() {
        let name = shared_name(&ctx.namespace, &ctx.name, &service.name);
        (name.clone(), name)
    } else {
        (service.name.clone(), database_name(&service.name))
    }
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

/// Whether a database engine's operator (CNPG, the MongoDB operator) runs the stack's server
/// of `kind`: it then creates the services' roles and databases itself, from the
/// credential Secrets, and no provisioning Job runs.
#[must_use]
pub fn engine_provided(ctx: &Ctx<'_>, kind: DatabaseKind) -> bool {
    let (spec, _) = database(ctx, kind);
    spec.provided_by()
        .is_some_and(|p| p != DatabaseProvider::Managed)
}

/// Whether the stack runs a service named `auth`.
#[must_use]
pub fn has_auth(ctx: &Ctx<'_>) -> bool {
    ctx.spec.services.iter().any(|s| s.name == deploy::AUTH)
}

/// Components with their own NATS user: the gateway and every service.
#[must_use]
pub fn nats_users(ctx: &Ctx<'_>) -> Vec<String> {
    std::iter::once(deploy::GATEWAY.to_owned())
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
                    .key("password", Generator::Password)
                    .protecting(ctx, kind),
            );
        }
    }
    for service in ctx
        .spec
        .services
        .iter()
        .filter(|s| s.database != DatabaseKind::None)
    {
        let (user, db) = service_db_names(ctx, service);
        out.push(
            GeneratedSecret::new(
                ctx,
                &service_db_secret(ctx, &service.name),
                &service.name,
                true,
            )
            .key("username", Generator::Literal(user))
            .key("password", Generator::Password)
            .key("database", Generator::Literal(db))
            .key(OWNER_KEY, Generator::Password)
            .protecting(ctx, service.database)
            .for_engine(ctx, service.database),
        );
    }
    if has_auth(ctx) {
        out.push(
            GeneratedSecret::new(ctx, &ctx.child("jwt"), deploy::AUTH, false)
                .key(JWT_KEY, Generator::Ed25519Pem),
        );
        // Retained: auth creates the admin once and never overwrites an existing one, so the
        // password must outlive the stack as long as auth's data does.
        let auth_database = ctx
            .spec
            .services
            .iter()
            .find(|s| s.name == "auth")
            .map(|s| s.database)
            .filter(|kind| *kind != DatabaseKind::None);
        if ctx.spec.auth.admin_password_secret.is_none() {
            let secret = GeneratedSecret::new(ctx, &admin_password_secret(ctx), deploy::AUTH, true)
                .key("password", Generator::Password);
            out.push(match auth_database {
                Some(kind) => secret.protecting(ctx, kind),
                None => secret,
            });
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
