//! Readiness of a database that an engine's operator runs, from the status that operator
//! writes: a CloudNativePG `Cluster` (`readyInstances` of `instances`, and its phase) or a
//! `MongoDBCommunity` (`phase: Running`).

use crate::crd::ComponentStatus;
use crate::manifests::cnpg::Cluster;
use crate::manifests::mongodb_community::MongoDBCommunity;

/// The phase CNPG reports for a Cluster whose instances all run as declared.
pub const CNPG_HEALTHY: &str = "Cluster in healthy state";
/// The phase the MongoDB operator reports for a replica set at its goal state.
pub const MONGODB_RUNNING: &str = "Running";

/// Readiness of a CNPG Cluster: every instance ready and the Cluster healthy.
#[must_use]
pub fn cluster_component(name: &str, cluster: &Cluster) -> ComponentStatus {
    let desired = cluster.spec.instances;
    let status = cluster.status.clone().unwrap_or_default();
    let ready = status.ready_instances.unwrap_or(0);
    let phase = status.phase.unwrap_or_default();
    let is_ready = ready >= desired && phase == CNPG_HEALTHY;
    let message = (!is_ready).then(|| {
        let phase = if phase.is_empty() {
            "not yet reported by CloudNativePG"
        } else {
            phase.as_str()
        };
        format!("{ready}/{desired} instances ready; {phase}")
    });
    ComponentStatus {
        name: name.to_owned(),
        kind: "Cluster".to_owned(),
        ready: is_ready,
        ready_replicas: ready,
        replicas: desired,
        message,
    }
}

/// Readiness of a MongoDBCommunity replica set: its phase is `Running`.
#[must_use]
pub fn replica_set_component(name: &str, replica_set: &MongoDBCommunity) -> ComponentStatus {
    let desired = replica_set.spec.members;
    let status = replica_set.status.clone().unwrap_or_default();
    let phase = status.phase.unwrap_or_default();
    let is_ready = phase == MONGODB_RUNNING;
    let members = status.current_mongo_db_members.unwrap_or(0);
    let message = (!is_ready).then(|| {
        let why = status.message.unwrap_or_default();
        match (phase.as_str(), why.as_str()) {
            ("", _) => "not yet reported by the MongoDB operator".to_owned(),
            (phase, "") => format!("phase {phase}"),
            (phase, why) => format!("phase {phase}: {why}"),
        }
    });
    ComponentStatus {
        name: name.to_owned(),
        kind: "MongoDBCommunity".to_owned(),
        ready: is_ready,
        ready_replicas: if is_ready {
            desired
        } else {
            members.min(desired)
        },
        replicas: desired,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::cnpg::kinds::{ClusterSpec, ClusterStatus};
    use crate::manifests::mongodb_community::kinds::{
        MongoDBCommunitySpec, MongoDBCommunityStatus,
    };

    fn cluster(ready: i32, phase: &str) -> Cluster {
        Cluster {
            spec: ClusterSpec {
                instances: 3,
                ..ClusterSpec::default()
            },
            status: Some(ClusterStatus {
                instances: Some(3),
                ready_instances: Some(ready),
                phase: Some(phase.to_owned()),
                current_primary: None,
            }),
            ..Cluster::default()
        }
    }

    #[test]
    fn a_cluster_is_ready_when_every_instance_is_and_cnpg_calls_it_healthy() {
        let ready = cluster_component("postgres", &cluster(3, CNPG_HEALTHY));
        assert!(ready.ready, "{ready:?}");
        assert_eq!((ready.ready_replicas, ready.replicas), (3, 3));
        let failing_over = cluster_component("postgres", &cluster(2, "Failing over"));
        assert!(!failing_over.ready);
        assert_eq!(
            failing_over.message.as_deref(),
            Some("2/3 instances ready; Failing over")
        );
        let unhealthy = cluster_component("postgres", &cluster(3, "Switchover in progress"));
        assert!(!unhealthy.ready);
        let new = cluster_component("postgres", &Cluster::default());
        assert!(new.message.is_some_and(|m| m.contains("not yet reported")));
    }

    #[test]
    fn a_replica_set_is_ready_when_running() {
        let mut replica_set = MongoDBCommunity {
            spec: MongoDBCommunitySpec {
                members: 3,
                ..MongoDBCommunitySpec::default()
            },
            status: Some(MongoDBCommunityStatus {
                phase: Some("Pending".into()),
                current_mongo_db_members: Some(1),
                message: Some("ReplicaSet is not yet ready".into()),
            }),
            ..MongoDBCommunity::default()
        };
        let pending = replica_set_component("mongodb", &replica_set);
        assert!(!pending.ready);
        assert_eq!(pending.ready_replicas, 1);
        assert_eq!(
            pending.message.as_deref(),
            Some("phase Pending: ReplicaSet is not yet ready")
        );
        replica_set.status = Some(MongoDBCommunityStatus {
            phase: Some(MONGODB_RUNNING.into()),
            current_mongo_db_members: Some(3),
            message: None,
        });
        let running = replica_set_component("mongodb", &replica_set);
        assert!(running.ready && running.message.is_none(), "{running:?}");
        assert_eq!(running.ready_replicas, 3);
    }
}
