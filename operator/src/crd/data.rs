//! The parts of the `MicroserviceStack` CRD that choose who runs a database server: the
//! operator's own single-pod StatefulSet (`managed`), CloudNativePG (`cnpg`) or the MongoDB
//! community operator (`community-operator`), and the CNPG backups. [`crate::crd`]
//! re-exports them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
