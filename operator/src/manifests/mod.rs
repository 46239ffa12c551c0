//! Pure builders of every child object of a `MicroserviceStack`.
//!
//! [`build`] takes a validated stack plus the Secret data the controller resolved (created-once
//! credentials and user-supplied external Secrets) and returns every child in apply order. No
//! builder does I/O or reads a clock or a random source, so the same input always yields the
//! same objects; randomness lives in [`secrets::GeneratedSecret`] values the controller fills in
//! only when a Secret is absent.

pub mod autoscaling;
pub mod cnpg;
pub mod common;
pub mod connection;
pub mod custom;
pub mod database;
pub mod dbinit;
pub mod gateway;
pub mod mongodb;
pub mod mongodb_community;
pub mod monitoring;
pub mod nats;
pub mod network;
pub mod pods;
pub mod postgres;
pub mod secrets;
pub mod services;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PodTemplateSpec, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde::Serialize;

use self::cnpg::{Cluster, Database, ScheduledBackup};
use self::mongodb_community::MongoDBCommunity;
use self::monitoring::kinds::{PodMonitor, PrometheusRule, ServiceMonitor};
use crate::crd::MicroserviceStack;
use crate::error::Error;

/// Secret data the builders read, by Secret name then key.
pub type SecretData = BTreeMap<String, BTreeMap<String, String>>;

/// One child object of any kind the operator manages.
#[derive(Clone, Debug, PartialEq)]
pub enum Child {
    /// A Secret derived from other Secrets (e.g. a connection URL); applied every reconcile.
    Secret(Secret),
    /// A ConfigMap.
    ConfigMap(ConfigMap),
    /// A NetworkPolicy (who may connect to a component's pods).
    NetworkPolicy(NetworkPolicy),
    /// A StatefulSet (NATS, PostgreSQL, MongoDB).
    StatefulSet(StatefulSet),
    /// A Service.
    Service(Service),
    /// A PodDisruptionBudget.
    Pdb(PodDisruptionBudget),
    /// A database-provisioning Job.
    Job(Job),
    /// A Deployment (a backend service or the gateway).
    Deployment(Deployment),
    /// A HorizontalPodAutoscaler of an autoscaled Deployment (applied after it).
    Hpa(HorizontalPodAutoscaler),
    /// A prometheus-operator ServiceMonitor (`spec.monitoring`).
    ServiceMonitor(ServiceMonitor),
    /// A prometheus-operator PodMonitor (`spec.monitoring`).
    PodMonitor(PodMonitor),
    /// A prometheus-operator PrometheusRule (`spec.monitoring`).
    PrometheusRule(PrometheusRule),
    /// A CloudNativePG Cluster (`postgres.provider: cnpg`).
    Cluster(Cluster),
    /// A CloudNativePG Database: a PostgreSQL service's database.
    CnpgDatabase(Database),
    /// A CloudNativePG ScheduledBackup (`postgres.backup`).
    ScheduledBackup(ScheduledBackup),
    /// A MongoDB community operator replica set (`mongodb.provider: community-operator`).
    MongoDBCommunity(MongoDBCommunity),
}

/// `$body` with `$o` bound to the object of whichever kind `$child` holds: for what every kind
/// does alike, such as reading its metadata or sending it to the API server.
macro_rules! each_child {
    ($child:expr, $o:ident => $body:expr) => {
        match $child {
            $crate::manifests::Child::Secret($o) => $body,
            $crate::manifests::Child::ConfigMap($o) => $body,
            $crate::manifests::Child::NetworkPolicy($o) => $body,
            $crate::manifests::Child::StatefulSet($o) => $body,
            $crate::manifests::Child::Service($o) => $body,
            $crate::manifests::Child::Pdb($o) => $body,
            $crate::manifests::Child::Job($o) => $body,
            $crate::manifests::Child::Deployment($o) => $body,
            $crate::manifests::Child::Hpa($o) => $body,
            $crate::manifests::Child::ServiceMonitor($o) => $body,
            $crate::manifests::Child::PodMonitor($o) => $body,
            $crate::manifests::Child::PrometheusRule($o) => $body,
            $crate::manifests::Child::Cluster($o) => $body,
            $crate::manifests::Child::CnpgDatabase($o) => $body,
            $crate::manifests::Child::ScheduledBackup($o) => $body,
            $crate::manifests::Child::MongoDBCommunity($o) => $body,
        }
    };
}
pub(crate) use each_child;

impl Child {
    /// The object's `kind`, as its type declares it.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        fn kind_of<K: k8s_openapi::Resource>(_: &K) -> &'static str {
            K::KIND
        }
        each_child!(self, o => kind_of(o))
    }

    /// Whether the object is of a prometheus-operator kind, whose CRDs a cluster may lack.
    #[must_use]
    pub fn needs_prometheus_operator(&self) -> bool {
        matches!(
            self,
            Self::ServiceMonitor(_) | Self::PodMonitor(_) | Self::PrometheusRule(_)
        )
    }

    /// The third-party operator whose API the object needs, when it is of such a kind:
    /// CloudNativePG or the MongoDB community operator (the prometheus-operator's kinds are
    /// optional, see [`Self::needs_prometheus_operator`]).
    #[must_use]
    pub fn engine(&self) -> Option<Engine> {
        match self {
            Self::Cluster(_) | Self::CnpgDatabase(_) | Self::ScheduledBackup(_) => {
                Some(Engine::CloudNativePg)
            }
            Self::MongoDBCommunity(_) => Some(Engine::MongoDbOperator),
            _ => None,
        }
    }

    /// The object's metadata.
    #[must_use]
    pub fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        each_child!(self, o => &o.metadata)
    }

    /// The object's name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or_default()
    }

    /// The pod template of a workload (Deployment, StatefulSet or Job); `None` for the rest.
    #[must_use]
    pub fn pod_template(&self) -> Option<&PodTemplateSpec> {
        match self {
            Self::StatefulSet(o) => Some(&o.spec.as_ref()?.template),
            Self::Job(o) => Some(&o.spec.as_ref()?.template),
            Self::Deployment(o) => Some(&o.spec.as_ref()?.template),
            _ => None,
        }
    }

    /// The object as JSON (with `apiVersion` and `kind`), as sent in an apply.
    #[must_use]
    pub fn to_value(&self) -> serde_json::Value {
        fn json(o: &impl Serialize) -> serde_json::Value {
            serde_json::to_value(o).unwrap_or_default()
        }
        each_child!(self, o => json(o))
    }
}

/// A database engine's operator the stack hands its PostgreSQL or MongoDB to; its API must
/// be served for the stack's objects of its kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Engine {
    /// CloudNativePG (`postgresql.cnpg.io`).
    CloudNativePg,
    /// The MongoDB community operator (`mongodbcommunity.mongodb.com`).
    MongoDbOperator,
}

/// Children applied together, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// Stage name, for logs and events.
    pub name: &'static str,
    /// Objects of the stage, in apply order.
    pub objects: Vec<Child>,
    /// Whether the later stages need every object of this one: when the API server rejects
    /// one of them, the later stages are not applied (see [`Children`]).
    pub prerequisite: bool,
}

/// Every child of a stack, in dependency order: configuration and NetworkPolicies (so pods
/// start isolated), then data stores and NATS, then services, then the gateway, then the
/// monitoring objects that scrape them.
///
/// A child the API server rejects (an immutable field, a quota) does not stop the others,
/// stage by stage:
///
/// - `config` is a prerequisite: the workloads after it read its Secrets and ConfigMap and
///   are isolated by its NetworkPolicies, and their pod templates carry a hash of that
///   configuration; rolling them onto configuration that was not written, or starting them
///   unisolated, is worse than keeping what runs. Nothing after it is applied.
/// - `data` (NATS and the database servers) is not: services and the gateway keep running
///   against the servers as they are, so they still get their upgrades when, say, a database
///   StatefulSet refuses a changed `storageClassName`.
/// - `services` and `gateway` are not: each Deployment stands alone (the gateway finds the
///   services through NATS, not through their objects).
/// - `monitoring` is not: nothing depends on it.
///
/// Created-once Secrets come before every stage (the reconciler's dereference step): when one
/// is missing or lost, nothing is applied at all.
#[derive(Clone, Debug, PartialEq)]
pub struct Children {
    /// The stages, in apply order.
    pub stages: Vec<Stage>,
}

impl Children {
    /// All objects, in apply order.
    pub fn iter(&self) -> impl Iterator<Item = &Child> {
        self.stages.iter().flat_map(|s| s.objects.iter())
    }

    /// Removes the objects of the prometheus-operator kinds (for a cluster without its CRDs);
    /// returns how many there were.
    pub fn drop_prometheus_operator_kinds(&mut self) -> usize {
        let mut dropped = 0;
        for stage in &mut self.stages {
            let before = stage.objects.len();
            stage.objects.retain(|c| !c.needs_prometheus_operator());
            dropped += before - stage.objects.len();
        }
        dropped
    }

    /// The engine operators whose APIs the children need.
    #[must_use]
    pub fn engines(&self) -> std::collections::BTreeSet<Engine> {
        self.iter().filter_map(Child::engine).collect()
    }

    /// The object of `kind` named `name`.
    #[must_use]
    pub fn find(&self, kind: &str, name: &str) -> Option<&Child> {
        self.iter().find(|c| c.kind() == kind && c.name() == name)
    }
}

/// Builds every child of `stack` from its spec and the resolved Secret data.
///
/// # Errors
/// [`Error::MissingSecretKey`] when a Secret the stack depends on lacks a key, and
/// [`Error::MissingObjectKey`] when the stack has no name, namespace or uid.
pub fn build(stack: &MicroserviceStack, secrets: &SecretData) -> Result<Children, Error> {
    let ctx = common::Ctx::new(stack)?;
    let mut config = connection::derived(&ctx, secrets)?;
    let mut data = Vec::new();
    let mut apps = Vec::new();
    config.push(Child::ConfigMap(nats::config_map(&ctx)));
    config.extend(
        network::policies(&ctx)
            .into_iter()
            .map(Child::NetworkPolicy),
    );
    data.extend(nats::children(&ctx, secrets)?);
    data.extend(postgres::children(&ctx, secrets)?);
    data.extend(cnpg::children(&ctx));
    data.extend(mongodb::children(&ctx, secrets)?);
    data.extend(mongodb_community::children(&ctx));
    apps.extend(dbinit::jobs(&ctx, secrets)?.into_iter().map(Child::Job));
    for service in &ctx.spec.services {
        apps.extend(services::children(&ctx, service, secrets)?);
    }
    let front = gateway::children(&ctx, secrets)?;
    let watch = monitoring::children(&ctx)?;
    Ok(Children {
        stages: vec![
            Stage {
                name: "config",
                objects: config,
                prerequisite: true,
            },
            Stage {
                name: "data",
                objects: data,
                prerequisite: false,
            },
            Stage {
                name: "services",
                objects: apps,
                prerequisite: false,
            },
            Stage {
                name: "gateway",
                objects: front,
                prerequisite: false,
            },
            Stage {
                name: "monitoring",
                objects: watch,
                prerequisite: false,
            },
        ],
    })
}
