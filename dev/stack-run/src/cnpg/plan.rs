//! What the harness reads from a CNPG `Cluster` and the `Database` and `ScheduledBackup`
//! objects naming it, the names derived from it, and what of it is not honoured.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::INSTANCES_RUN;

/// A login role of `managed.roles`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// The role name.
    pub name: String,
    /// The basic-auth Secret holding its `password` (`passwordSecret.name`).
    pub password_secret: String,
}

/// A `Database` object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Database {
    /// The database name.
    pub name: String,
    /// Its owner (a role).
    pub owner: String,
}

/// What the harness reads from one Cluster and its Database objects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The Cluster's name (`<stack>-postgres`).
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// `spec.instances`.
    pub instances: u32,
    /// `spec.postgresql.parameters`.
    pub parameters: BTreeMap<String, String>,
    /// `spec.managed.roles` (login roles with a password Secret).
    pub roles: Vec<Role>,
    /// The Database objects naming this Cluster.
    pub databases: Vec<Database>,
    /// Whether `spec.backup` is set.
    pub backup: bool,
    /// ScheduledBackup objects naming this Cluster.
    pub scheduled_backups: usize,
    /// `spec.monitoring.enablePodMonitor`.
    pub pod_monitor: bool,
}

impl Plan {
    /// Where the harness keeps this Cluster's files (certificates, instances' data) under its
    /// state directory `root`.
    #[must_use]
    pub fn dir(&self, root: &Path) -> PathBuf {
        root.join("cnpg").join(&self.name)
    }

    /// The name of one of its Services (`rw`, `ro`, `r`).
    #[must_use]
    pub fn service(&self, suffix: &str) -> String {
        operator::manifests::cnpg::service_of(&self.name, suffix)
    }

    /// The in-cluster DNS name of one of its Services, up to `.svc`.
    #[must_use]
    pub fn service_host(&self, suffix: &str) -> String {
        format!("{}.{}.svc", self.service(suffix), self.namespace)
    }

    /// The CA Secret CNPG generates (`ca.crt`, `ca.key`).
    #[must_use]
    pub fn ca_secret(&self) -> String {
        operator::manifests::cnpg::ca_secret_of(&self.name)
    }

    /// The server certificate Secret CNPG generates (`tls.crt`, `tls.key`).
    #[must_use]
    pub fn server_secret(&self) -> String {
        format!("{}-server", self.name)
    }

    /// What the harness does not honour of this Cluster.
    #[must_use]
    pub fn notes(&self) -> Vec<String> {
        let name = &self.name;
        let mut notes = vec![format!(
            "CloudNativePG Cluster {name}: run as a primary and one streaming replica \
             (pg_basebackup -R) without CNPG's instance manager: no automated failover (the \
             switchover is the harness's, on request), no rolling updates, no fencing or \
             hibernation; this machine's PostgreSQL whatever imageName says; the replication user is trusted over TLS instead of CNPG's client \
             certificate; the server certificate carries the loopback addresses the Service \
             names are rewritten to, so verify-full checks addresses"
        )];
        if self.instances > INSTANCES_RUN {
            notes.push(format!(
                "CloudNativePG Cluster {name}: {} instances asked, {INSTANCES_RUN} run (the \
                 other replicas are not started)",
                self.instances
            ));
        }
        if self.backup || self.scheduled_backups > 0 {
            notes.push(format!(
                "CloudNativePG Cluster {name}: backups are not taken (no Barman, no object \
                 store): spec.backup and {} ScheduledBackup(s) are ignored",
                self.scheduled_backups
            ));
        }
        if self.pod_monitor {
            notes.push(format!(
                "CloudNativePG Cluster {name}: the PodMonitor and the instances' metrics \
                 exporter are not run"
            ));
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_notes() {
        let plan = Plan {
            name: "shop-postgres".into(),
            namespace: "team-a".into(),
            instances: 3,
            backup: true,
            scheduled_backups: 1,
            ..Plan::default()
        };
        let notes = plan.notes().join("\n");
        assert!(notes.contains("3 instances asked, 2 run"), "{notes}");
        assert!(notes.contains("backups are not taken"), "{notes}");
        assert_eq!(plan.service_host("rw"), "shop-postgres-rw.team-a.svc");
        assert_eq!(plan.ca_secret(), "shop-postgres-ca");
    }
}
