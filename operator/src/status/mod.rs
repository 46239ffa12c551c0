//! Pure status computation: workload states to component readiness ([`components`]), and the
//! outcome of a reconcile to `Ready`, `Progressing` and `Degraded` conditions
//! ([`conditions`]).
//!
//! A condition's `lastTransitionTime` moves only when its status changes, and an unchanged
//! status compares equal to the previous one, so the controller can skip the status write and
//! does not re-trigger itself.

pub mod components;
pub mod conditions;
pub mod engines;
pub mod fault;
pub mod rollout;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub use components::{
    JOB_RETRY_AFTER, deployment_component, failed_job_component, gateway_address,
    job_due_for_retry, job_failure, stateful_set_component,
};
use conditions::{Kind, State, Truth};
pub use engines::{cluster_component, replica_set_component};
pub use fault::Fault;

use crate::crd::{ComponentStatus, MicroserviceStackStatus};
use crate::manifests::cnpg::Cluster;
use crate::manifests::mongodb_community::MongoDBCommunity;

/// A kind of child whose stored object tells a component's readiness.
pub trait Component {
    /// The component `name` as this object reports it; `None` when the object is not a
    /// component in its present state (a Job that has not failed).
    fn component(&self, name: &str) -> Option<ComponentStatus>;
}

/// Implements [`Component`] for kinds whose object is always a component, by the function
/// that reads its readiness.
macro_rules! always_components {
    ($($kind:ty => $read:path),* $(,)?) => {$(
        impl Component for $kind {
            fn component(&self, name: &str) -> Option<ComponentStatus> {
                Some($read(name, self))
            }
        }
    )*};
}

always_components!(
    Deployment => deployment_component,
    StatefulSet => stateful_set_component,
    Cluster => cluster_component,
    MongoDBCommunity => replica_set_component,
);

/// What a reconcile achieved.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Every child was applied; readiness as read from the workloads.
    Applied {
        /// Per-component readiness.
        components: Vec<ComponentStatus>,
        /// Where the gateway answers, when known.
        gateway_address: Option<String>,
        /// Why components cannot start (one line each: component, container, reason and the
        /// kubelet's message); empty when nothing is stuck.
        stuck: Vec<String>,
    },
    /// `spec.paused` is true; nothing was changed.
    Paused,
    /// The spec is invalid; nothing was changed.
    Invalid(String),
    /// The generation was not (or not wholly) applied.
    Failed {
        /// Why.
        fault: Fault,
        /// What failed, and what to do about it.
        message: String,
    },
}

impl Outcome {
    /// Why the stack is `Degraded`, if it is.
    #[must_use]
    pub fn fault(&self) -> Option<Fault> {
        match self {
            Self::Applied { stuck, .. } if !stuck.is_empty() => Some(Fault::RolloutStuck),
            Self::Applied { .. } | Self::Paused => None,
            Self::Invalid(_) => Some(Fault::InvalidSpec),
            Self::Failed { fault, .. } => Some(*fault),
        }
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
            ..
        } => (components.clone(), gateway_address.clone()),
        _ => (
            old.map(|s| s.components.clone()).unwrap_or_default(),
            old.and_then(|s| s.gateway_address.clone()),
        ),
    };
    let ready_count = components.iter().filter(|c| c.ready).count();
    let old_generation = old.and_then(|s| s.observed_generation);
    let applied_before = old_generation.is_some() && old_generation == generation;
    let [ready, progressing, degraded] =
        states(outcome, &components, old_conditions, applied_before);
    // The generation the stack runs: this one once applied in full and rolled out (Ready);
    // until then the last one that was. kstatus (Flux, kpt, Argo CD's generic health) reads a
    // custom resource whose observedGeneration equals its generation as done, whatever its
    // conditions say, so advancing it on apply would report a rollout still in progress, or
    // stuck, or a failed or invalid spec as live.
    let observed_generation = match outcome {
        Outcome::Applied { .. } if ready.truth == Truth::True => generation,
        _ => old_generation,
    };
    let conditions = Kind::ALL
        .into_iter()
        .zip([ready, progressing, degraded])
        .map(|(kind, state)| state.stamp(kind, old_conditions, generation, now))
        .collect();
    MicroserviceStackStatus {
        observed_generation,
        conditions,
        ready_components: Some(format!("{ready_count}/{}", components.len())),
        components,
        gateway_address,
    }
}

/// `Ready`, `Progressing` and `Degraded` for `outcome`. What a reconcile did not learn about
/// (readiness while paused, invalid or failing) keeps its previous state when that state was
/// about this same generation (`applied_before`); a new generation that was not applied is not
/// ready, whatever the previous one was.
fn states(
    outcome: &Outcome,
    components: &[ComponentStatus],
    old: &[Condition],
    applied_before: bool,
) -> [State; 3] {
    let kept_ready = |fallback: State| {
        if applied_before {
            State::kept(old, Kind::Ready, fallback)
        } else {
            fallback
        }
    };
    let not_ready: Vec<&str> = components
        .iter()
        .filter(|c| !c.ready)
        .map(|c| c.name.as_str())
        .collect();
    let succeeded = || State::no("ReconcileSucceeded", "the last reconcile succeeded");
    let readiness = || {
        if !components.is_empty() && not_ready.is_empty() {
            State::yes("AllComponentsReady", "every component is ready")
        } else {
            State::no(
                "ComponentsNotReady",
                format!("not ready: {}", not_ready.join(", ")),
            )
        }
    };
    match outcome {
        Outcome::Applied { stuck, .. } if !stuck.is_empty() => {
            let reason = Fault::RolloutStuck.as_str();
            [
                readiness(),
                State::no(reason, "a rollout cannot make progress (see Degraded)"),
                State::yes(reason, stuck.join("; ")),
            ]
        }
        Outcome::Applied { .. } if !components.is_empty() && not_ready.is_empty() => [
            readiness(),
            State::no("ReconcileComplete", "every child is applied and ready"),
            succeeded(),
        ],
        Outcome::Applied { .. } => [
            readiness(),
            State::yes(
                "RollingOut",
                format!("waiting for: {}", not_ready.join(", ")),
            ),
            succeeded(),
        ],
        Outcome::Paused => [
            kept_ready(State::unknown("Paused", "reconciliation is paused")),
            State::no("Paused", "reconciliation is paused (spec.paused)"),
            State::no("Paused", "reconciliation is paused (spec.paused)"),
        ],
        Outcome::Invalid(message) => [
            kept_ready(State::no("InvalidSpec", message.as_str())),
            State::no("InvalidSpec", "waiting for a valid spec"),
            State::yes("InvalidSpec", message.as_str()),
        ],
        Outcome::Failed { fault, message } => [
            kept_ready(State::no(fault.as_str(), message.as_str())),
            State::yes("Retrying", "retrying after a failure"),
            State::yes(fault.as_str(), message.as_str()),
        ],
    }
}

/// A condition that changed between two statuses: its kind, its status before (if it was
/// there) and what it says now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Which condition.
    pub kind: Kind,
    /// Its status before.
    pub before: Option<Truth>,
    /// Its state now.
    pub after: State,
}

impl Change {
    /// Whether the status itself moved (not only the reason or the message).
    #[must_use]
    pub fn flipped(&self) -> bool {
        self.before != Some(self.after.truth)
    }
}

/// Conditions whose status, reason or message differ between `old` and `new` (for Events).
#[must_use]
pub fn changes(
    old: Option<&MicroserviceStackStatus>,
    new: &MicroserviceStackStatus,
) -> Vec<Change> {
    let old = old.map(|s| s.conditions.as_slice()).unwrap_or_default();
    Kind::ALL
        .into_iter()
        .filter_map(|kind| {
            let after = State::of(&new.conditions, kind)?;
            let before = State::of(old, kind);
            (before.as_ref() != Some(&after)).then(|| Change {
                kind,
                before: before.map(|b| b.truth),
                after,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;

    use super::components::tests::deployment;
    use super::*;

    fn time(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).expect("valid"))
    }

    fn applied(components: Vec<ComponentStatus>) -> Outcome {
        Outcome::Applied {
            components,
            gateway_address: Some("http://x".into()),
            stuck: Vec::new(),
        }
    }

    fn condition<'a>(s: &'a MicroserviceStackStatus, kind: &str) -> &'a Condition {
        s.conditions
            .iter()
            .find(|c| c.type_ == kind)
            .expect("condition")
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
        assert!(changes(Some(&first), &same).is_empty());

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
            condition(&broken, "Progressing").last_transition_time,
            time(100),
            "Progressing did not change"
        );
        // The new generation is not ready: the last applied one does not speak for it.
        assert_eq!(condition(&broken, "Ready").last_transition_time, time(300));
        let flipped: Vec<Kind> = changes(Some(&first), &broken)
            .into_iter()
            .filter(Change::flipped)
            .map(|c| c.kind)
            .collect();
        assert_eq!(flipped, [Kind::Ready, Kind::Degraded]);
        assert_eq!(
            broken.components, first.components,
            "components kept from the last apply"
        );
    }

    #[test]
    fn a_generation_that_was_not_applied_is_not_ready_and_not_observed() {
        let ready = vec![deployment_component("a", &deployment(1, 1, 1, 1))];
        let applied = compute(None, Some(1), &applied(ready), &time(100));
        assert_eq!(condition(&applied, "Ready").status, "True");
        let failed = Outcome::Failed {
            fault: Fault::ApiError,
            message: "immutable field".into(),
        };
        for outcome in [
            failed.clone(),
            Outcome::Invalid("bad".into()),
            Outcome::Paused,
        ] {
            let edited = compute(Some(&applied), Some(2), &outcome, &time(200));
            assert_eq!(edited.observed_generation, Some(1), "{outcome:?}");
            let ready = condition(&edited, "Ready");
            assert_ne!(ready.status, "True", "{outcome:?}");
            assert_eq!(ready.observed_generation, Some(2), "{outcome:?}");
        }
        // A transient failure while re-reconciling the applied generation keeps it Ready.
        let resync = compute(Some(&applied), Some(1), &failed, &time(300));
        assert_eq!(condition(&resync, "Ready").status, "True");
        assert_eq!(resync.observed_generation, Some(1));
    }

    #[test]
    fn failures_and_pause_are_reported() {
        let failed = Outcome::Failed {
            fault: Fault::ApiError,
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
    fn a_stuck_rollout_is_degraded_and_not_progressing() {
        let components = vec![deployment_component("a", &deployment(1, 0, 1, 1))];
        let outcome = Outcome::Applied {
            components,
            gateway_address: None,
            stuck: vec!["a: container a ImagePullBackOff: no such image x:1".into()],
        };
        assert_eq!(outcome.fault(), Some(Fault::RolloutStuck));
        let status = compute(None, Some(1), &outcome, &time(1));
        let degraded = condition(&status, "Degraded");
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", "RolloutStuck")
        );
        assert!(degraded.message.contains("x:1"), "{}", degraded.message);
        assert_eq!(condition(&status, "Progressing").status, "False");
        assert_eq!(condition(&status, "Ready").status, "False");
        assert_eq!(
            status.observed_generation, None,
            "a generation that cannot roll out is not the one running"
        );
    }
}
