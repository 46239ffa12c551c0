//! Readiness of each component from its workload's own status: Deployments, StatefulSets,
//! failed provisioning Jobs; and where the gateway answers, from its Service.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::Component;
use crate::crd::ComponentStatus;

impl Component for Job {
    fn component(&self, name: &str) -> Option<ComponentStatus> {
        failed_job_component(name, self)
    }
}

/// Readiness of a Deployment from its own status.
#[must_use]
pub fn deployment_component(name: &str, d: &Deployment) -> ComponentStatus {
    let status = d.status.clone().unwrap_or_default();
    let rollout = Rollout::new(
        d.metadata.generation,
        d.spec.as_ref().and_then(|s| s.replicas),
        status.observed_generation,
        status.ready_replicas,
        status.updated_replicas,
    );
    let available = status.available_replicas.unwrap_or(0);
    // Pods of the previous template still running (as `kubectl rollout status` reads it): a
    // new template whose pods cannot start leaves the old ones serving, ready and available,
    // so the counts above alone would call the rollout done.
    let old_pods_left = status.replicas.unwrap_or(0) > rollout.updated;
    rollout.component(
        name,
        "Deployment",
        !old_pods_left && available >= rollout.desired,
    )
}

/// Readiness of a StatefulSet from its own status.
#[must_use]
pub fn stateful_set_component(name: &str, s: &StatefulSet) -> ComponentStatus {
    let status = s.status.clone().unwrap_or_default();
    Rollout::new(
        s.metadata.generation,
        s.spec.as_ref().and_then(|s| s.replicas),
        status.observed_generation,
        status.ready_replicas,
        status.updated_replicas,
    )
    .component(name, "StatefulSet", true)
}

/// The counts a Deployment's and a StatefulSet's rollout are both judged by.
#[derive(Clone, Copy)]
struct Rollout {
    /// Replicas asked for (1 when unset, as Kubernetes defaults it).
    desired: i32,
    ready: i32,
    updated: i32,
    /// Whether the controller has seen the current template.
    observed: bool,
}

impl Rollout {
    fn new(
        generation: Option<i64>,
        desired: Option<i32>,
        observed_generation: Option<i64>,
        ready: Option<i32>,
        updated: Option<i32>,
    ) -> Self {
        Self {
            desired: desired.unwrap_or(1),
            ready: ready.unwrap_or(0),
            updated: updated.unwrap_or(0),
            observed: generation.is_none() || observed_generation >= generation,
        }
    }

    /// The component, ready when the rollout is observed and done and `also` (what the kind
    /// adds to "done") holds.
    fn component(self, name: &str, kind: &str, also: bool) -> ComponentStatus {
        let Self {
            desired,
            ready,
            updated,
            observed,
        } = self;
        let is_ready = observed && ready >= desired && updated >= desired && also;
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

#[cfg(test)]
pub(super) mod tests {
    use k8s_openapi::api::apps::v1::{
        DeploymentSpec, DeploymentStatus, StatefulSetSpec, StatefulSetStatus,
    };
    use k8s_openapi::api::core::v1::{
        LoadBalancerIngress, LoadBalancerStatus, ServiceSpec, ServiceStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    /// A Deployment wanting `replicas`, `ready` of them ready, at `generation`, its status
    /// from `observed`.
    pub(in crate::status) fn deployment(
        replicas: i32,
        ready: i32,
        generation: i64,
        observed: i64,
    ) -> Deployment {
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
        // One new pod that cannot start beside the old one still serving: not rolled out.
        let mut stuck = deployment(1, 1, 2, 2);
        if let Some(status) = stuck.status.as_mut() {
            status.replicas = Some(2);
            status.updated_replicas = Some(1);
        }
        assert!(!deployment_component("a", &stuck).ready);

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
