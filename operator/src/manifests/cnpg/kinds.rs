//! Typed `postgresql.cnpg.io/v1` objects (Cluster, Database, ScheduledBackup) of
//! CloudNativePG, written for the fields the operator renders (see
//! [`crate::manifests::custom`]); `make manifests-test` checks the rendered objects against
//! the CRDs of the CNPG release named in [`CNPG_RELEASE`].

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use serde::{Deserialize, Serialize};

use crate::manifests::custom::{api_group, kind};

api_group!(
    /// API group of CloudNativePG's kinds.
    "postgresql.cnpg.io",
    "v1"
);
/// The CloudNativePG release whose CRDs the rendered objects are checked against, and which
/// the docs tell users to install.
pub const CNPG_RELEASE: &str = "1.27.1";
/// The command that installs that release (operator and CRDs).
pub const CNPG_INSTALL: &str = "kubectl apply --server-side -f https://raw.githubusercontent.com/cloudnative-pg/cloudnative-pg/release-1.27/releases/cnpg-1.27.1.yaml";

kind!(
    /// A PostgreSQL cluster: a primary and streaming replicas, with failover.
    Cluster,
    ClusterSpec,
    "clusters",
    status = ClusterStatus
);
kind!(
    /// A database inside a Cluster, owned by one role.
    Database,
    DatabaseSpec,
    "databases"
);
kind!(
    /// Base backups of a Cluster on a schedule.
    ScheduledBackup,
    ScheduledBackupSpec,
    "scheduledbackups"
);

/// The desired state of a [`Cluster`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// Number of instances (one primary, the rest replicas).
    pub instances: i32,
    /// The PostgreSQL operand image; CNPG's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// Each instance's volume.
    pub storage: Storage,
    /// Compute resources of each instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// PostgreSQL settings.
    pub postgresql: Postgresql,
    /// Metrics: a PodMonitor of the instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<Monitoring>,
    /// Roles CNPG keeps as declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<Managed>,
    /// WAL archiving and base backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<Backup>,
}

/// An instance's volume.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Storage {
    /// Size of the volume (a quantity such as `10Gi`).
    pub size: String,
    /// Its StorageClass; the cluster default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// PostgreSQL settings of a Cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Postgresql {
    /// `postgresql.conf` parameters.
    pub parameters: BTreeMap<String, String>,
}

/// Metrics settings of a Cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Monitoring {
    /// Whether CNPG creates a prometheus-operator PodMonitor of the instances.
    pub enable_pod_monitor: bool,
}

/// Objects CNPG manages inside PostgreSQL.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Managed {
    /// The roles.
    pub roles: Vec<Role>,
}

/// A role CNPG creates and keeps as declared.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// The role's name.
    pub name: String,
    /// `present` or `absent`.
    pub ensure: String,
    /// Whether the role may log in.
    pub login: bool,
    /// A basic-auth shaped Secret (`username`, equal to `name`, and `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<LocalReference>,
    /// A comment on the role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// An object of the same namespace, by name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalReference {
    /// Its name.
    pub name: String,
}

/// A key of a Secret of the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecretKey {
    /// The Secret's name.
    pub name: String,
    /// The key.
    pub key: String,
}

/// Backups of a Cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    /// The object store (Barman Cloud).
    pub barman_object_store: BarmanObjectStore,
    /// How long backups are kept (`30d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_policy: Option<String>,
}

/// An S3-compatible object store.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BarmanObjectStore {
    /// `s3://bucket/path`.
    pub destination_path: String,
    /// The store's endpoint (for stores other than AWS S3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "endpointURL")]
    pub endpoint_url: Option<String>,
    /// The keys.
    pub s3_credentials: S3Credentials,
}

/// The keys of an S3-compatible store.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Credentials {
    /// The access key id.
    pub access_key_id: SecretKey,
    /// The secret access key.
    pub secret_access_key: SecretKey,
}

/// What CNPG reports of a [`Cluster`] (the fields the stack's status reads).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// Instances that exist.
    #[serde(default)]
    pub instances: Option<i32>,
    /// Instances that are ready.
    #[serde(default)]
    pub ready_instances: Option<i32>,
    /// The phase, e.g. `Cluster in healthy state`.
    #[serde(default)]
    pub phase: Option<String>,
    /// The instance that is primary.
    #[serde(default)]
    pub current_primary: Option<String>,
}

/// The desired state of a [`Database`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSpec {
    /// The Cluster it lives in.
    pub cluster: LocalReference,
    /// The database's name inside PostgreSQL.
    pub name: String,
    /// The role owning it.
    pub owner: String,
    /// `present` or `absent`.
    pub ensure: String,
    /// Whether deleting the object drops the database (`retain` keeps it).
    pub database_reclaim_policy: String,
}

/// The desired state of a [`ScheduledBackup`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledBackupSpec {
    /// The Cluster backed up.
    pub cluster: LocalReference,
    /// Six-field cron expression, seconds first.
    pub schedule: String,
    /// `barmanObjectStore`.
    pub method: String,
    /// Which object owns the Backups it creates (`self`: deleted with it).
    pub backup_owner_reference: String,
    /// Whether a first backup is taken at once.
    pub immediate: bool,
}
