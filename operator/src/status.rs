//! Pure status computation: workload states to component readiness, and the outcome of a
//! reconcile to `Ready`, `Progressing` and `Degraded` conditions.
//!
//! A condition's `lastTransitionTime` moves only when its status changes, and an unchanged
//! status compares equal to the previous one, so the controller can skip the status write and
//! does not re-trigger itself.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::crd::{ComponentStatus, MicroserviceStackStatus};

/// What a reconcile achieved.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Every child was applied; readiness as read from the workloads.
    Applied {
        /// Per-component readiness.
        components: Vec<ComponentStatus>,
        /// Where the gateway answers, when known.
        gateway_address: Option<String>,
    },
    /// `spec.paused` is true; nothing was changed.
    Paused,
    /// The spec is invalid; nothing was changed.
    Invalid(String),
    /// Applying failed.
    Failed {
        /// Short reason (`ApiError`, `MissingSecret`, ...).
        reason: String,
        /// What failed.
        message: String,
    },
}

/// Readiness of a Deployment from its own status.
#[must_use]
pub fn deployment_component(name: &str, d: &Deployment) -> ComponentStatus {
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let generation = d.metadata.generation;
    let status = d.status.clone().unwrap_or_default();
    let ready = status.ready_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let observed = generation.is_none() || status.observed_generation >= generation;
    let is_ready = observed && ready >= desired && updated >= desired && available >= desired;
    component(name, "Deployment", desired, ready, is_ready, observed)
}

/// Readiness of a StatefulSet from its own status.
#[must_use]
pub fn stateful_set_component(name: &str, s: &StatefulSet) -> ComponentStatus {
    let desired = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let generation = s.metadata.generation;
    let status = s.status.clone().unwrap_or_default();
    let ready = status.ready_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let observed = generation.is_none() || status.observed_generation >= generation;
    let is_ready = observed && ready >= desired && updated >= desired;
    component(name, "StatefulSet", desired, ready, is_ready, observed)
}

fn component(
    name: &str,
    kind: &str,
    desired: i32,
    ready: i32,
    is_ready: bool,
    observed: bool,
) -> ComponentStatus {
    let message = (!is_ready).then(|| {
        if observed {
            format!("{ready}/{desired} replicas ready")
        } else {
            "rollout not yet observed".to_owned()
        }
    });
    ComponentStatus {
        name: name.to_owned(),
        kind: kind.to_owned(),
        ready: is_ready,
        ready_replicas: ready,
        replicas: desired,
        message,
    }
}

/// How long a failed provisioning Job stays (its failure shown in status) before it is deleted
/// so that the next reconcile runs it again.
pub const JOB_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// When a Job failed and why (its `Failed` condition), if it did.
#[must_use]
pub fn job_failure(job: &Job) -> Option<(Option<Time>, String)> {
    let failed = job
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Failed" && c.status == "True")?;
    let why = match (failed.reason.as_deref(), failed.message.as_deref()) {
        (Some(reason), Some(message)) => format!("{reason}: {message}"),
        (Some(text), None) | (None, Some(text)) => text.to_owned(),
        (None, None) => "failed".to_owned(),
    };
    Some((failed.last_transition_time.clone(), why))
}

/// Whether a failed Job has been failed long enough to be deleted and run again.
#[must_use]
pub fn job_due_for_retry(job: &Job, now: &k8s_openapi::jiff::Timestamp) -> bool {
    job_failure(job).is_some_and(|(at, _)| {
        at.is_none_or(|at| {
            now.duration_since(at.0).as_secs() >= JOB_RETRY_AFTER.as_secs().cast_signed()
        })
    })
}

/// A failed provisioning Job as a component that is not ready (running and finished Jobs are
/// not components: the service that waits for its database reports that).
#[must_use]
pub fn failed_job_component(name: &str, job: &Job) -> Option<ComponentStatus> {
    let (_, why) = job_failure(job)?;
    let job_name = job.metadata.name.as_deref().unwrap_or_default();
    Some(ComponentStatus {
        name: name.to_owned(),
        kind: "Job".to_owned(),
        ready: false,
        ready_replicas: 0,
        replicas: 1,
        message: Some(format!(
            "job {job_name} failed ({why}); see `kubectl logs job/{job_name}`; it runs again {} s after failing",
            JOB_RETRY_AFTER.as_secs()
        )),
    })
}

/// The gateway address from its Service: the load balancer address, the node port, or the
/// in-cluster DNS name.
#[must_use]
pub fn gateway_address(service: &Service, namespace: &str, port: i32) -> Option<String> {
    let name = service.metadata.name.as_deref()?;
    let spec = service.spec.as_ref()?;
    match spec.type_.as_deref() {
        Some("LoadBalancer") => {
            let ingress = service
                .status
                .as_ref()?
                .load_balancer
                .as_ref()?
                .ingress
                .as_ref()?
                .first()?;
            let host = ingress.ip.clone().or_else(|| ingress.hostname.clone())?;
            Some(format!("http://{host}:{port}"))
        }
        Some("NodePort") => {
            let node_port = spec.ports.as_ref()?.first()?.node_port?;
            Some(format!("<node>:{node_port}"))
        }
        _ => Some(format!("http://{name}.{namespace}.svc:{port}")),
    }
}

/// The new status, keeping transition times of conditions whose status did not change.
#[must_use]
pub fn compute(
    old: Option<&MicroserviceStackStatus>,
    generation: Option<i64>,
    outcome: &Outcome,
    now: &Time,
) -> MicroserviceStackStatus {
    let old_conditions = old.map(|s| s.conditions.as_slice()).unwrap_or_default();
    let (components, gateway_address) = match outcome {
        Outcome::Applied {
            components,
            gateway_address,
        } => (components.clone(), gateway_address.clone()),
        _ => (
            old.map(|s| s.components.clone()).unwrap_or_default(),
            old.and_then(|s| s.gateway_address.clone()),
        ),
    };
    let ready_count = components.iter().filter(|c| c.ready).count();
    let all_ready = !components.is_empty() && ready_count == components.len();
    let not_ready: Vec<&str> = components
        .iter()
        .filter(|c| !c.ready)
        .map(|c| c.name.as_str())
        .collect();
    let (ready, progressing, degraded) = match outcome {
        Outcome::Applied { .. } if all_ready => (
            (
                "True",
                "AllComponentsReady",
                "every component is ready".to_owned(),
            ),
            (
                "False",
                "ReconcileComplete",
                "every child is applied and ready".to_owned(),
            ),
            (
                "False",
                "ReconcileSucceeded",
                "the last reconcile succeeded".to_owned(),
            ),
        ),
        Outcome::Applied { .. } => (
            (
                "False",
                "ComponentsNotReady",
                format!("not ready: {}", not_ready.join(", ")),
            ),
            (
                "True",
                "RollingOut",
                format!("waiting for: {}", not_ready.join(", ")),
            ),
            (
                "False",
                "ReconcileSucceeded",
                "the last reconcile succeeded".to_owned(),
            ),
        ),
        Outcome::Paused => (
            keep(
                old_conditions,
                "Ready",
                ("Unknown", "Paused", "reconciliation is paused"),
            ),
            (
                "False",
                "Paused",
                "reconciliation is paused (spec.paused)".to_owned(),
            ),
            (
                "False",
                "Paused",
                "reconciliation is paused (spec.paused)".to_owned(),
            ),
        ),
        Outcome::Invalid(message) => (
            keep(old_conditions, "Ready", ("False", "InvalidSpec", message)),
            (
                "False",
                "InvalidSpec",
                "waiting for a valid spec".to_owned(),
            ),
            ("True", "InvalidSpec", message.clone()),
        ),
        Outcome::Failed { reason, message } => (
            keep(old_conditions, "Ready", ("False", reason, message)),
            ("True", "Retrying", "retrying after a failure".to_owned()),
            ("True", reason.as_str(), message.clone()),
        ),
    };
    let conditions = [
        ("Ready", ready),
        ("Progressing", progressing),
        ("Degraded", degraded),
    ]
    .into_iter()
    .map(|(kind, (status, reason, message))| {
        condition(
            old_conditions,
            generation,
            kind,
            status,
            reason,
            message,
            now,
        )
    })
    .collect();
    MicroserviceStackStatus {
        observed_generation: generation,
        conditions,
        ready_components: Some(format!("{ready_count}/{}", components.len())),
        components,
        gateway_address,
    }
}

/// The previous `(status, reason, message)` of a condition, or `fallback`.
fn keep<'a>(
    old: &'a [Condition],
    kind: &str,
    fallback: (&'a str, &'a str, &str),
) -> (&'a str, &'a str, String) {
    old.iter().find(|c| c.type_ == kind).map_or_else(
        || (fallback.0, fallback.1, fallback.2.to_owned()),
        |c| (c.status.as_str(), c.reason.as_str(), c.message.clone()),
    )
}

fn condition(
    old: &[Condition],
    generation: Option<i64>,
    kind: &str,
    status: &str,
    reason: &str,
    message: String,
    now: &Time,
) -> Condition {
    let last_transition_time = old
        .iter()
        .find(|c| c.type_ == kind && c.status == status)
        .map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
    Condition {
        type_: kind.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message,
        observed_generation: generation,
        last_transition_time,
    }
}

/// Conditions whose status differs between `old` and `new` (for Events): `(type, new status,
/// reason, message)`.
#[must_use]
pub fn transitions(
    old: Option<&MicroserviceStackStatus>,
    new: &MicroserviceStackStatus,
) -> Vec<Condition> {
    new.conditions
        .iter()
        .filter(|c| {
            let before = old.and_then(|o| o.conditions.iter().find(|p| p.type_ == c.type_));
            before.is_none_or(|p| p.status != c.status)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::{
        DeploymentSpec, DeploymentStatus, StatefulSetSpec, StatefulSetStatus,
    };
    use k8s_openapi::api::core::v1::{
        LoadBalancerIngress, LoadBalancerStatus, ServiceSpec, ServiceStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn time(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).expect("valid"))
    }

    fn deployment(replicas: i32, ready: i32, generation: i64, observed: i64) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                generation: Some(generation),
                ..ObjectMeta::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                ..DeploymentSpec::default()
            }),
            status: Some(DeploymentStatus {
                observed_generation: Some(observed),
                ready_replicas: Some(ready),
                updated_replicas: Some(ready),
                available_replicas: Some(ready),
                ..DeploymentStatus::default()
            }),
        }
    }

    fn applied(components: Vec<ComponentStatus>) -> Outcome {
        Outcome::Applied {
            components,
            gateway_address: Some("http://x".into()),
        }
    }

    fn condition<'a>(s: &'a MicroserviceStackStatus, kind: &str) -> &'a Condition {
        s.conditions
            .iter()
            .find(|c| c.type_ == kind)
            .expect("condition")
    }

    #[test]
    fn workload_states_map_to_readiness() {
        assert!(deployment_component("a", &deployment(2, 2, 3, 3)).ready);
        let partial = deployment_component("a", &deployment(2, 1, 3, 3));
        assert!(!partial.ready);
        assert_eq!(partial.message.as_deref(), Some("1/2 replicas ready"));
        let stale = deployment_component("a", &deployment(2, 2, 4, 3));
        assert!(
            !stale.ready,
            "a rollout the controller has not observed is not ready"
        );
        assert!(
            deployment_component("a", &deployment(0, 0, 1, 1)).ready,
            "scaled to zero is ready"
        );
        let no_status = Deployment {
            status: None,
            ..deployment(1, 0, 1, 1)
        };
        assert!(!deployment_component("a", &no_status).ready);

        let sts = |ready| StatefulSet {
            metadata: ObjectMeta {
                generation: Some(1),
                ..ObjectMeta::default()
            },
            spec: Some(StatefulSetSpec {
                replicas: Some(3),
                ..StatefulSetSpec::default()
            }),
            status: Some(StatefulSetStatus {
                observed_generation: Some(1),
                ready_replicas: Some(ready),
                updated_replicas: Some(3),
                replicas: 3,
                ..StatefulSetStatus::default()
            }),
        };
        assert!(stateful_set_component("nats", &sts(3)).ready);
        assert!(!stateful_set_component("nats", &sts(2)).ready);
    }

    #[test]
    fn all_ready_means_ready_and_not_progressing() {
        let components = vec![deployment_component("a", &deployment(1, 1, 1, 1))];
        let status = compute(None, Some(5), &applied(components), &time(100));
        assert_eq!(condition(&status, "Ready").status, "True");
        assert_eq!(condition(&status, "Progressing").status, "False");
        assert_eq!(condition(&status, "Degraded").status, "False");
        assert_eq!(status.observed_generation, Some(5));
        assert_eq!(status.ready_components.as_deref(), Some("1/1"));
        assert_eq!(status.gateway_address.as_deref(), Some("http://x"));
    }

    #[test]
    fn not_ready_components_are_named() {
        let components = vec![
            deployment_component("gateway", &deployment(1, 1, 1, 1)),
            deployment_component("auth", &deployment(1, 0, 1, 1)),
        ];
        let status = compute(None, Some(1), &applied(components), &time(100));
        let ready = condition(&status, "Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "ComponentsNotReady")
        );
        assert!(ready.message.contains("auth") && !ready.message.contains("gateway"));
        assert_eq!(condition(&status, "Progressing").status, "True");
        assert_eq!(status.ready_components.as_deref(), Some("1/2"));
    }

    #[test]
    fn transition_time_moves_only_on_change() {
        let ready = vec![deployment_component("a", &deployment(1, 1, 1, 1))];
        let first = compute(None, Some(1), &applied(ready.clone()), &time(100));
        let same = compute(Some(&first), Some(1), &applied(ready), &time(200));
        assert_eq!(
            first, same,
            "an unchanged state yields an identical status (no write, no re-trigger)"
        );
        assert!(transitions(Some(&first), &same).is_empty());

        let broken = compute(
            Some(&first),
            Some(2),
            &Outcome::Invalid("bad".into()),
            &time(300),
        );
        let degraded = condition(&broken, "Degraded");
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", "InvalidSpec")
        );
        assert_eq!(degraded.last_transition_time, time(300));
        assert_eq!(
            condition(&broken, "Ready").last_transition_time,
            time(100),
            "Ready did not change"
        );
        let changed: Vec<String> = transitions(Some(&first), &broken)
            .into_iter()
            .map(|c| c.type_)
            .collect();
        assert_eq!(changed, ["Degraded"]);
        assert_eq!(
            broken.components, first.components,
            "components kept from the last apply"
        );
    }

    #[test]
    fn failures_and_pause_are_reported() {
        let failed = Outcome::Failed {
            reason: "ApiError".into(),
            message: "boom".into(),
        };
        let status = compute(None, Some(1), &failed, &time(1));
        assert_eq!(condition(&status, "Degraded").reason, "ApiError");
        assert_eq!(condition(&status, "Degraded").message, "boom");
        assert_eq!(condition(&status, "Progressing").status, "True");
        let paused = compute(None, Some(1), &Outcome::Paused, &time(1));
        assert_eq!(condition(&paused, "Progressing").reason, "Paused");
        assert_eq!(condition(&paused, "Ready").status, "Unknown");
    }

    #[test]
    fn gateway_address_follows_the_service_type() {
        let svc = |kind: &str, node_port: Option<i32>, ingress: Option<&str>| Service {
            metadata: ObjectMeta {
                name: Some("s-gateway".into()),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                type_: Some(kind.into()),
                ports: Some(vec![k8s_openapi::api::core::v1::ServicePort {
                    port: 80,
                    node_port,
                    ..Default::default()
                }]),
                ..ServiceSpec::default()
            }),
            status: ingress.map(|ip| ServiceStatus {
                load_balancer: Some(LoadBalancerStatus {
                    ingress: Some(vec![LoadBalancerIngress {
                        ip: Some(ip.into()),
                        ..Default::default()
                    }]),
                }),
                conditions: None,
            }),
        };
        assert_eq!(
            gateway_address(&svc("ClusterIP", None, None), "ns", 80).as_deref(),
            Some("http://s-gateway.ns.svc:80")
        );
        assert_eq!(
            gateway_address(&svc("NodePort", Some(30080), None), "ns", 80).as_deref(),
            Some("<node>:30080")
        );
        assert_eq!(
            gateway_address(&svc("LoadBalancer", None, None), "ns", 80),
            None
        );
        assert_eq!(
            gateway_address(&svc("LoadBalancer", None, Some("1.2.3.4")), "ns", 80).as_deref(),
            Some("http://1.2.3.4:80")
        );
    }
}
