//! HorizontalPodAutoscalers of the services and the gateway that set `autoscaling`.
//!
//! An autoscaled Deployment is rendered without `spec.replicas`, so the autoscaler owns the
//! count; `crate::reconcile::handoff` keeps the current count when an existing Deployment switches to
//! autoscaling. What is sized by the number of pods (database pools, the PDB) is sized for
//! `maxReplicas` (see [`most_pods`]).

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};

use super::common::Ctx;
use crate::crd::Autoscaling;

/// The most pods a component may run: `maxReplicas` when autoscaled, else `replicas`.
#[must_use]
pub fn most_pods(replicas: i32, autoscaling: Option<&Autoscaling>) -> i32 {
    autoscaling.map_or(replicas, |a| a.max_replicas)
}

/// The Deployment's `spec.replicas`: none when autoscaled (the autoscaler owns it).
#[must_use]
pub fn replicas(replicas: i32, autoscaling: Option<&Autoscaling>) -> Option<i32> {
    autoscaling.is_none().then_some(replicas)
}

/// The HorizontalPodAutoscaler of `component`'s Deployment (`<stack>-<component>`), scaling
/// it between `minReplicas` and `maxReplicas` on the average CPU use relative to the request.
#[must_use]
pub fn hpa(ctx: &Ctx<'_>, component: &str, scaling: &Autoscaling) -> HorizontalPodAutoscaler {
    let name = ctx.child(component);
    HorizontalPodAutoscaler {
        metadata: ctx.meta(&name, component),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name,
            },
            min_replicas: Some(scaling.min_replicas),
            max_replicas: scaling.max_replicas,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(scaling.target_cpu_utilization_percentage),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            behavior: None,
        }),
        status: None,
    }
}
