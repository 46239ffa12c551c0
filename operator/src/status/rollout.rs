//! Workloads that cannot start: a Deployment past its progress deadline, and pods whose
//! containers wait on something that does not fix itself (an image that cannot be pulled, a
//! crash loop, a missing config key). A workload's own status does not change while its pods
//! crash-loop, so readiness alone would report such a stack as progressing forever.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use crate::manifests::common::LABEL_NAME;

/// Waiting reasons of a container (set by the kubelet) that mean it will not start without a
/// change: a new image, a fixed command or configuration.
pub const STUCK_REASONS: [&str; 5] = [
    "ImagePullBackOff",
    "ErrImagePull",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "InvalidImageName",
];

/// Why components cannot start, one line each (sorted; one per component, container and
/// reason however many replicas share it): `<component>: container <name> <reason>: <kubelet
/// message>`, or the Deployment's `ProgressDeadlineExceeded`.
#[must_use]
pub fn stuck(deployments: &[Deployment], pods: &[Pod]) -> Vec<String> {
    let mut out = BTreeSet::new();
    for deployment in deployments {
        if let Some(line) = past_deadline(deployment) {
            out.insert(line);
        }
    }
    let mut seen = BTreeSet::new();
    for pod in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let component = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_NAME))
            .map_or("?", String::as_str);
        let Some(status) = &pod.status else { continue };
        let containers = status
            .init_container_statuses
            .iter()
            .chain(status.container_statuses.iter())
            .flatten();
        for (container, reason, message) in containers.filter_map(waiting) {
            if seen.insert((component, container, reason)) {
                out.insert(format!(
                    "{component}: container {container} {reason}: {message}"
                ));
            }
        }
    }
    out.into_iter().collect()
}

/// Name, reason and message of a container waiting for a reason in [`STUCK_REASONS`].
fn waiting(container: &ContainerStatus) -> Option<(&str, &str, &str)> {
    let waiting = container.state.as_ref()?.waiting.as_ref()?;
    let reason = waiting.reason.as_deref()?;
    let message = waiting.message.as_deref().unwrap_or("no message");
    // The kubelet's crash-loop message starts with the current back-off ("back-off 40s
    // restarting failed container=..."), which doubles at every restart: without it the
    // message stays the same, and so do the condition and its Event.
    let message = message
        .strip_prefix("back-off ")
        .and_then(|rest| rest.split_once(' '))
        .map_or(message, |(_, rest)| rest);
    STUCK_REASONS
        .contains(&reason)
        .then_some((container.name.as_str(), reason, message))
}

fn past_deadline(deployment: &Deployment) -> Option<String> {
    let progressing = deployment
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Progressing")?;
    let exceeded = progressing.status == "False"
        && progressing.reason.as_deref() == Some("ProgressDeadlineExceeded");
    exceeded.then(|| {
        let name = deployment.metadata.name.as_deref().unwrap_or_default();
        let component = deployment
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_NAME))
            .map_or(name, String::as_str);
        let message = progressing.message.as_deref().unwrap_or("no message");
        format!("{component}: deployment {name} ProgressDeadlineExceeded: {message}")
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(component: &str, reason: &str, message: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": format!("{component}-x"), "labels": {"app.kubernetes.io/name": component}},
            "status": {"containerStatuses": [{
                "name": component, "image": "i", "imageID": "", "ready": false,
                "restartCount": 0,
                "state": {"waiting": {"reason": reason, "message": message}},
            }]},
        }))
        .expect("pod")
    }

    #[test]
    fn pods_that_cannot_start_are_named_once() {
        let pull = pod(
            "orders",
            "ImagePullBackOff",
            "Back-off pulling image \"shop/orders:9\"",
        );
        let lines = stuck(
            &[],
            &[pull.clone(), pull, pod("auth", "ContainerCreating", "")],
        );
        assert_eq!(
            lines,
            ["orders: container orders ImagePullBackOff: Back-off pulling image \"shop/orders:9\""]
        );
    }

    #[test]
    fn a_crash_loop_reads_the_same_at_every_back_off() {
        let at = |delay: &str| {
            let message = format!("back-off {delay} restarting failed container=auth pod=a-0");
            stuck(&[], &[pod("auth", "CrashLoopBackOff", &message)])
        };
        assert_eq!(at("10s"), at("5m0s"));
        assert_eq!(
            at("10s"),
            ["auth: container auth CrashLoopBackOff: restarting failed container=auth pod=a-0"]
        );
    }

    #[test]
    fn a_deployment_past_its_deadline_is_stuck() {
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "s-gateway", "labels": {"app.kubernetes.io/name": "gateway"}},
            "status": {"conditions": [{"type": "Progressing", "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": "ReplicaSet \"s-gateway-1\" has timed out progressing."}]},
        }))
        .expect("deployment");
        let lines = stuck(&[deployment], &[]);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].starts_with("gateway: deployment s-gateway ProgressDeadlineExceeded"));
    }
}
