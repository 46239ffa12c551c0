//! What running on one machine does not honour of a rendered stack, said in the notes the
//! harness prints: the mode's limits, and the objects that have no meaning here.

use operator::manifests::Child;
use operator::render::Rendered;

use crate::program::Images;

/// What the mode the workloads run in does not honour.
pub(super) fn mode_note(images: &Images) -> &'static str {
    if images.uses_containers() {
        "containers mode: the project's workloads run from their images with their \
         securityContext; NATS and the databases are stand-in processes; resource limits are \
         not enforced"
    } else {
        "process mode: securityContext (user, read-only root, capabilities) and resource \
         limits are not enforced; pods share this machine's file system"
    }
}

/// Notes on the objects of `rendered` that one machine does not honour, each with how many
/// the stack has (none when it has none).
pub(super) fn unhonoured(rendered: &Rendered) -> Vec<String> {
    let count = |is: fn(&Child) -> bool| rendered.children.iter().filter(|c| is(c)).count();
    let kinds = [
        (
            count(|c| matches!(c, Child::NetworkPolicy(_))),
            "NetworkPolicies are not enforced: every loopback address reaches every other \
             (their builders are tested in the operator's policy tests)",
        ),
        (
            count(|c| matches!(c, Child::Hpa(_))),
            "HorizontalPodAutoscalers are not run: an autoscaled Deployment runs one pod (the \
             autoscaler's hand-off is tested in the operator's tests)",
        ),
        (
            count(is_placed),
            "pod templates carry imagePullSecrets or scheduling settings (podOverrides): they \
             have no meaning on this machine and are ignored",
        ),
    ];
    kinds
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect()
}

/// Whether `child`'s pod template carries scheduling or registry settings, which mean nothing
/// on one machine.
fn is_placed(child: &Child) -> bool {
    child
        .pod_template()
        .and_then(|t| t.spec.as_ref())
        .is_some_and(|p| {
            p.image_pull_secrets.is_some()
                || p.node_selector.is_some()
                || p.tolerations.is_some()
                || p.affinity.is_some()
                || p.priority_class_name.is_some()
                || p.service_account_name.is_some()
        })
}
