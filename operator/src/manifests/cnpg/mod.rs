//! PostgreSQL through CloudNativePG (`spec.postgres.provider: cnpg`): instead of the
//! operator's own StatefulSet and provisioning Jobs, a CNPG [`Cluster`], one CNPG
//! [`Database`] per PostgreSQL service and, with `spec.postgres.backup`, a
//! [`ScheduledBackup`].
//!
//! The names CNPG derives from the Cluster, which the services and the test harness rely on
//! (a stand-in that plays CNPG must create the same):
//!
//! | Object | Name | What the stack reads |
//! | --- | --- | --- |
//! | Cluster | `<stack>-postgres` ([`cluster_name`]) | `status.instances`, `status.readyInstances`, `status.phase` |
//! | Service | `<stack>-postgres-rw` ([`rw_service`]) | port 5432, the primary; every service's `DATABASE_URL` host (`<stack>-postgres-rw.<ns>.svc`, `sslmode=verify-full`) |
//! | Services | `<stack>-postgres-ro`, `<stack>-postgres-r` | replicas, any instance (not used by the services) |
//! | Secret | `<stack>-postgres-ca` ([`ca_secret`]) | key `ca.crt` ([`CA_KEY`](super::connection::CA_KEY)), mounted at `DB_CA_DIR` in the PostgreSQL services |
//! | Pods | label `cnpg.io/cluster: <stack>-postgres` ([`CLUSTER_LABEL`]) | the NetworkPolicy selects them |
//!
//! Each PostgreSQL service's role is a `managed.roles` entry named like the `username` of its
//! credential Secret `<stack>-<service>-db` (the operator's created-once Secret, of type
//! `kubernetes.io/basic-auth` with keys `username` and `password`, labelled `cnpg.io/reload`
//! so that CNPG picks up a changed password), which is its `passwordSecret`. The service's
//! database (key `database` of that Secret) is a `Database` object owned by that role.
//!
//! Backups: the Cluster's `backup.barmanObjectStore` reads the object store's keys
//! `ACCESS_KEY_ID` and `ACCESS_SECRET_KEY` ([`ACCESS_KEY_ID`], [`ACCESS_SECRET_KEY`]) from
//! `backup.credentialsSecret`.

pub mod kinds;

use std::collections::BTreeMap;

use self::kinds::{
    Backup, BarmanObjectStore, ClusterSpec, DatabaseSpec, LocalReference, Managed, Monitoring,
    Postgresql, Role, S3Credentials, ScheduledBackupSpec, SecretKey, Storage,
};
pub use self::kinds::{CNPG_INSTALL, CNPG_RELEASE, Cluster, Database, ScheduledBackup};
use super::Child;
use super::common::Ctx;
use super::database::resources;
use super::postgres::max_connections;
use super::secrets::{service_db_names, service_db_secret};
use crate::crd::{DatabaseKind, DatabaseProvider};

/// Component label of the CNPG objects (the stack's PostgreSQL, whoever runs it).
pub const COMPONENT: &str = "postgres";
/// The label CNPG puts on every pod of a Cluster (value: the Cluster's name).
pub const CLUSTER_LABEL: &str = "cnpg.io/cluster";
/// The label that makes CNPG reload a role's password when its Secret changes.
pub const RELOAD_LABEL: &str = "cnpg.io/reload";
/// Key of the backup credentials Secret holding the object store's access key id.
pub const ACCESS_KEY_ID: &str = "ACCESS_KEY_ID";
/// Key of the backup credentials Secret holding the object store's secret access key.
pub const ACCESS_SECRET_KEY: &str = "ACCESS_SECRET_KEY";
/// The `sslmode` the services connect with: CNPG always serves TLS with its own CA.
pub const SSL_MODE: &str = "verify-full";
/// The port of CNPG's instance manager (status, probes), which the CNPG operator calls.
pub const STATUS_PORT: u16 = 8000;
/// The port of CNPG's metrics exporter on every instance.
pub const METRICS_PORT: u16 = 9187;

/// Whether the stack's PostgreSQL is a CNPG Cluster.
#[must_use]
pub fn enabled(ctx: &Ctx<'_>) -> bool {
    ctx.spec.postgres.provided_by() == Some(DatabaseProvider::Cnpg)
}

/// The Cluster's name: `<stack>-postgres`.
#[must_use]
pub fn cluster_name(ctx: &Ctx<'_>) -> String {
    ctx.child(COMPONENT)
}

/// The name CNPG gives a Cluster's Service of `kind` (`rw`: the primary, `ro`: the
/// replicas, `r`: any instance): `<cluster>-<kind>`.
#[must_use]
pub fn service_of(cluster: &str, kind: &str) -> String {
    format!("{cluster}-{kind}")
}

/// The Secret CNPG writes a Cluster's CA certificate to: `<cluster>-ca`.
#[must_use]
pub fn ca_secret_of(cluster: &str) -> String {
    format!("{cluster}-ca")
}

/// The Service CNPG points at the primary: `<stack>-postgres-rw`.
#[must_use]
pub fn rw_service(ctx: &Ctx<'_>) -> String {
    service_of(&cluster_name(ctx), "rw")
}

/// The Secret CNPG writes its CA certificate to: `<stack>-postgres-ca`.
#[must_use]
pub fn ca_secret(ctx: &Ctx<'_>) -> String {
    ca_secret_of(&cluster_name(ctx))
}

/// The Cluster, one Database per PostgreSQL service and the ScheduledBackup; nothing unless
/// the stack's PostgreSQL is provided by CNPG.
#[must_use]
pub fn children(ctx: &Ctx<'_>) -> Vec<Child> {
    if !enabled(ctx) {
        return Vec::new();
    }
    let mut out = vec![Child::Cluster(cluster(ctx))];
    out.extend(ctx.spec.services_on(DatabaseKind::Postgres).map(|s| {
        let (role, database) = service_db_names(ctx, s);
        Child::CnpgDatabase(Database {
            metadata: ctx.meta(&ctx.child(&format!("{}-db", s.name)), COMPONENT),
            spec: DatabaseSpec {
                cluster: LocalReference {
                    name: cluster_name(ctx),
                },
                name: database,
                owner: role,
                ensure: "present".into(),
                // Deleting the object (a service removed from the stack) keeps its data.
                database_reclaim_policy: "retain".into(),
            },
        })
    }));
    if let Some(backup) = &ctx.spec.postgres.backup {
        out.push(Child::ScheduledBackup(ScheduledBackup {
            metadata: ctx.meta(&cluster_name(ctx), COMPONENT),
            spec: ScheduledBackupSpec {
                cluster: LocalReference {
                    name: cluster_name(ctx),
                },
                schedule: backup.schedule.clone(),
                method: "barmanObjectStore".into(),
                backup_owner_reference: "self".into(),
                immediate: true,
            },
        }));
    }
    out
}

fn cluster(ctx: &Ctx<'_>) -> Cluster {
    let spec = &ctx.spec.postgres;
    let roles = ctx
        .spec
        .services_on(DatabaseKind::Postgres)
        .map(|s| Role {
            name: service_db_names(ctx, s).0,
            ensure: "present".into(),
            login: true,
            password_secret: Some(LocalReference {
                name: service_db_secret(ctx, &s.name),
            }),
            comment: Some(format!(
                "natstack stack={}/{} service={}",
                ctx.namespace, ctx.name, s.name
            )),
        })
        .collect::<Vec<_>>();
    let backup = spec.backup.as_ref().map(|b| Backup {
        barman_object_store: BarmanObjectStore {
            destination_path: b.destination_path.clone(),
            endpoint_url: b.endpoint_url.clone(),
            s3_credentials: S3Credentials {
                access_key_id: SecretKey {
                    name: b.credentials_secret.clone(),
                    key: ACCESS_KEY_ID.into(),
                },
                secret_access_key: SecretKey {
                    name: b.credentials_secret.clone(),
                    key: ACCESS_SECRET_KEY.into(),
                },
            },
        },
        retention_policy: b.retention_policy.clone(),
    });
    Cluster {
        metadata: ctx.meta(&cluster_name(ctx), COMPONENT),
        spec: ClusterSpec {
            instances: spec.replicas(),
            image_name: spec.image.clone(),
            storage: Storage {
                size: spec.storage.clone(),
                storage_class: spec.storage_class_name.clone(),
            },
            resources: Some(resources(spec)),
            postgresql: Postgresql {
                parameters: BTreeMap::from([(
                    "max_connections".to_owned(),
                    max_connections(spec).to_string(),
                )]),
            },
            monitoring: ctx.spec.monitoring.enabled.then_some(Monitoring {
                enable_pod_monitor: true,
            }),
            managed: (!roles.is_empty()).then_some(Managed { roles }),
            backup,
        },
        status: None,
    }
}
