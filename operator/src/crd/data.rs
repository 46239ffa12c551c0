//! The `spec.postgres` and `spec.mongodb` parts of the `MicroserviceStack` CRD, and what a
//! service's `database` names: who runs a database server (the operator's own single-pod
//! StatefulSet, `managed`; CloudNativePG, `cnpg`; the MongoDB community operator,
//! `community-operator`; or an external server), its volume and limits, and the CNPG
//! backups. [`crate::crd`] re-exports them.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::yes;

/// Instances of a CNPG Cluster, and members of a MongoDB replica set, when the spec gives none.
pub const DEFAULT_REPLICAS: i32 = 3;

/// CEL rule (on the stack spec): PostgreSQL is `managed` or `cnpg`.
pub const POSTGRES_PROVIDER_RULE: &str = "self.postgres.provider in ['managed', 'cnpg']";
/// CEL rule (on the stack spec): MongoDB is `managed` or `community-operator`.
pub const MONGODB_PROVIDER_RULE: &str =
    "self.mongodb.provider in ['managed', 'community-operator']";
/// CEL rule (on the stack spec): `maxConnections` is a PostgreSQL setting.
pub const MAX_CONNECTIONS_RULE: &str = "!has(self.mongodb.maxConnections)";
/// CEL rule (on a database): an external server is used as it is, by no provider.
pub const EXISTING_SECRET_RULE: &str = "!has(self.existingSecret) || self.provider == 'managed'";
/// CEL rule (on a database): `instances` and `backup` are CloudNativePG settings.
pub const CNPG_FIELDS_RULE: &str =
    "(!has(self.instances) && !has(self.backup)) || self.provider == 'cnpg'";
/// CEL rule (on a database): `members` is a setting of the MongoDB community operator.
pub const MEMBERS_RULE: &str = "!has(self.members) || self.provider == 'community-operator'";
/// CEL transition rule of `provider`: the data stays with the engine that holds it.
pub const PROVIDER_FIXED_RULE: &str = "self == oldSelf";
/// The message of [`PROVIDER_FIXED_RULE`].
pub const PROVIDER_FIXED_MESSAGE: &str = "provider cannot change after creation: the data does not move between providers (create a new stack and restore into it)";

/// Who runs a database server.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DatabaseProvider {
    /// A single-pod StatefulSet the operator writes itself: for development and `make run`,
    /// no failover and no backups.
    #[default]
    #[serde(rename = "managed")]
    Managed,
    /// PostgreSQL only: a CloudNativePG `Cluster` (HA with failover, backups, PITR).
    /// CloudNativePG must be installed in the cluster.
    #[serde(rename = "cnpg")]
    Cnpg,
    /// MongoDB only: a `MongoDBCommunity` replica set of the MongoDB community operator,
    /// which must be installed in the cluster.
    #[serde(rename = "community-operator")]
    CommunityOperator,
}

impl DatabaseProvider {
    /// The value as the spec spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Managed => "managed",
            Self::Cnpg => "cnpg",
            Self::CommunityOperator => "community-operator",
        }
    }
}

/// Backups of a CloudNativePG cluster to an S3-compatible object store (Barman Cloud): the
/// WAL archive continuously, and base backups on `schedule`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    /// Where backups go, e.g. `s3://bucket/path`.
    #[schemars(length(min = 1, max = 1024))]
    pub destination_path: String,
    /// The object store's endpoint, for a store other than AWS S3 (MinIO, Ceph, ...).
    #[serde(
        default,
        rename = "endpointURL",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(max = 1024))]
    pub endpoint_url: Option<String>,
    /// Secret (same namespace) with the object store's keys `ACCESS_KEY_ID` and
    /// `ACCESS_SECRET_KEY`.
    #[schemars(length(min = 1, max = 253))]
    pub credentials_secret: String,
    /// How long backups are kept, e.g. `30d` (CNPG's `retentionPolicy`: a number and `d`,
    /// `w` or `m`); kept forever when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[1-9][0-9]*[dwm]$"))]
    pub retention_policy: Option<String>,
    /// When base backups run: a six-field cron expression with seconds first, as CNPG's
    /// `ScheduledBackup` reads it (`0 0 3 * * *` is every day at 03:00).
    #[serde(default = "default_schedule")]
    #[schemars(length(min = 1, max = 100))]
    pub schedule: String,
}

fn default_schedule() -> String {
    "0 0 3 * * *".to_owned()
}

/// A database server: the operator's own (a StatefulSet), one run by an engine's operator
/// (`provider`), or external (`existingSecret`).
///
/// Adding or removing `storageClassName` is checked here, on the parent: the API server skips a
/// transition rule on a field absent from the old or the new object, so the field's own
/// `self == oldSelf` sees only changes of a value that was and stays set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.storageClassName) == has(oldSelf.storageClassName)").message("storageClassName cannot be added or removed after creation"))]
#[x_kube(validation = Rule::new(EXISTING_SECRET_RULE).message("existingSecret names an external server: provider must be managed (the default)"))]
#[x_kube(validation = Rule::new(CNPG_FIELDS_RULE).message("instances and backup are CloudNativePG settings: they need provider cnpg"))]
#[x_kube(validation = Rule::new(MEMBERS_RULE).message("members is a MongoDB community operator setting: it needs provider community-operator"))]
pub struct DatabaseSpec {
    /// Runs a server for the stack (the operator's own, or through `provider`). Ignored when
    /// `existingSecret` is set.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Who runs the server: `managed` (a single-pod StatefulSet of the operator's own, for
    /// development), `cnpg` (PostgreSQL through CloudNativePG) or `community-operator`
    /// (MongoDB through the MongoDB community operator). Fixed once created.
    #[serde(default)]
    #[x_kube(validation = Rule::new(PROVIDER_FIXED_RULE).message(PROVIDER_FIXED_MESSAGE))]
    pub provider: DatabaseProvider,
    /// PostgreSQL with provider `cnpg`: instances of the Cluster, one primary and the rest
    /// streaming replicas (3 when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 9))]
    pub instances: Option<i32>,
    /// MongoDB with provider `community-operator`: members of the replica set (3 when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 7))]
    pub members: Option<i32>,
    /// PostgreSQL with provider `cnpg`: continuous WAL archiving and scheduled base backups
    /// to an object store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupSpec>,
    /// Server image of the managed server (`postgres:17-alpine` or `mongo:8.0` when unset).
    /// With `cnpg`, the CloudNativePG operand image (CNPG's default when unset); with
    /// `community-operator`, its tag (a full `x.y.z`) is the MongoDB version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Size of the managed server's volume. It may grow (the operator resizes the volume claims
    /// where the StorageClass sets `allowVolumeExpansion`), never shrink.
    #[serde(default = "default_storage")]
    #[x_kube(validation = Rule::new("quantity(self).compareTo(quantity(oldSelf)) >= 0").message("storage can only grow: volumes cannot shrink"))]
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$"))]
    pub storage: String,
    /// StorageClass of the managed server's volume; the cluster default when unset. Fixed once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("storageClassName cannot change after creation"))]
    pub storage_class_name: Option<String>,
    /// Compute resources of the managed server. MongoDB's WiredTiger cache is sized from the
    /// memory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// PostgreSQL only: connections the server accepts (100 when unset). The managed server is
    /// started with it; for an external server, give the share this stack may use. Every
    /// service pod's pool (`DATABASE_MAX_CONNECTIONS`) is sized so that all of them fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 20, max = 10_000))]
    pub max_connections: Option<i32>,
    /// Uses an external server instead. The Secret (same namespace) holds `host`, optional
    /// `port`, and `username` and `password` of an account that may create databases and roles
    /// (PostgreSQL: `CREATEDB CREATEROLE` is enough). TLS: PostgreSQL `sslmode` (`disable`,
    /// `allow`, `prefer`, `require`, `verify-ca`, `verify-full`; unset means `prefer`);
    /// MongoDB `tls` (`true`), `srv` (`true`: `mongodb+srv://` seed list) and `options` (extra
    /// connection-string options); both `ca.crt`, the CA certificate that signed the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_secret: Option<String>,
}

impl DatabaseSpec {
    /// Default settings of the managed PostgreSQL.
    #[must_use]
    pub fn postgres() -> Self {
        Self::managed()
    }

    /// Default settings of the managed MongoDB.
    #[must_use]
    pub fn mongodb() -> Self {
        Self::managed()
    }

    fn managed() -> Self {
        Self {
            enabled: true,
            provider: DatabaseProvider::Managed,
            instances: None,
            members: None,
            backup: None,
            image: None,
            storage: default_storage(),
            storage_class_name: None,
            resources: None,
            max_connections: None,
            existing_secret: None,
        }
    }

    /// The server image, or `default` when unset.
    #[must_use]
    pub fn image_or(&self, default: &str) -> String {
        self.image.clone().unwrap_or_else(|| default.to_owned())
    }

    /// Whether the operator runs this server itself (its own StatefulSet).
    #[must_use]
    pub fn is_managed(&self) -> bool {
        self.provided_by() == Some(DatabaseProvider::Managed)
    }

    /// Who runs the stack's server; `None` when the stack has none (disabled or external).
    #[must_use]
    pub fn provided_by(&self) -> Option<DatabaseProvider> {
        (self.enabled && self.existing_secret.is_none()).then_some(self.provider)
    }

    /// Instances of a CNPG Cluster, or members of a MongoDB replica set.
    #[must_use]
    pub fn replicas(&self) -> i32 {
        self.instances.or(self.members).unwrap_or(DEFAULT_REPLICAS)
    }

    /// Whether services can use this database (managed or external).
    #[must_use]
    pub fn is_available(&self) -> bool {
        self.enabled || self.existing_secret.is_some()
    }
}

/// Which database a service gets.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    /// No database.
    #[default]
    None,
    /// Its own PostgreSQL database and role (`DATABASE_URL`).
    Postgres,
    /// Its own MongoDB database (`MONGODB_URL`).
    Mongodb,
}

fn default_storage() -> String {
    "1Gi".to_owned()
}
