//! The fake API server's collection paths in namespace `shop`, where the reconcile, day-2,
//! pipeline and autoscaling scenarios put their stack, and the resync every scenario expects.

use std::time::Duration;

/// The namespace of the scenarios' stack.
pub const NS: &str = "shop";
/// MicroserviceStacks.
pub const STACKS: &str = "/apis/natstack.dev/v1alpha1/namespaces/shop/microservicestacks";
/// Secrets.
pub const SECRETS: &str = "/api/v1/namespaces/shop/secrets";
/// ConfigMaps.
pub const CONFIG_MAPS: &str = "/api/v1/namespaces/shop/configmaps";
/// Pods.
pub const PODS: &str = "/api/v1/namespaces/shop/pods";
/// PersistentVolumeClaims.
pub const CLAIMS: &str = "/api/v1/namespaces/shop/persistentvolumeclaims";
/// Deployments.
pub const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/shop/deployments";
/// StatefulSets.
pub const STATEFUL_SETS: &str = "/apis/apps/v1/namespaces/shop/statefulsets";
/// Jobs.
pub const JOBS: &str = "/apis/batch/v1/namespaces/shop/jobs";
/// HorizontalPodAutoscalers.
pub const HPAS: &str = "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers";
/// The prometheus-operator's kinds, up to the collection.
pub const MONITORING: &str = "/apis/monitoring.coreos.com/v1/namespaces/shop";
/// CloudNativePG Clusters.
pub const CLUSTERS: &str = "/apis/postgresql.cnpg.io/v1/namespaces/shop/clusters";
/// CloudNativePG Databases.
pub const DATABASES: &str = "/apis/postgresql.cnpg.io/v1/namespaces/shop/databases";
/// CloudNativePG ScheduledBackups.
pub const BACKUPS: &str = "/apis/postgresql.cnpg.io/v1/namespaces/shop/scheduledbackups";
/// MongoDB community replica sets.
pub const REPLICA_SETS: &str =
    "/apis/mongodbcommunity.mongodb.com/v1/namespaces/shop/mongodbcommunity";

/// The resync period the scenarios give the controller: the requeue of a reconcile that
/// finished with everything ready.
pub const RESYNC: Duration = Duration::from_secs(300);
