//! Kubernetes Events about a stack, from typed values only: a condition [`Change`] and the
//! outcome's [`Fault`] choose the [`Reason`]; nothing matches condition strings.
//!
//! kube's `Recorder` folds an Event into an earlier one (a PATCH raising its series count)
//! when its type, `action`, reason, reporter, `regarding` and `related` are the same within six
//! minutes; the note is not part of that key, so a later message for the same reason would be
//! lost behind the first one. The `action` therefore carries a short hash of the note: a
//! changed message is a new Event, the same message repeated is counted in its series.

use kube::Resource;
use kube::runtime::events::{Event, EventType};
use sha2::{Digest as _, Sha256};
use tracing::warn;

use crate::controller::Context;
use crate::status::conditions::{Kind, Truth};
use crate::status::{Change, Fault, Outcome};

/// Longest note an Event may carry (the API server's limit is 1 kB).
const NOTE_MAX: usize = 1000;

/// Why an Event is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The stack became ready.
    Ready,
    /// The stack was ready and is no longer.
    NotReady,
    /// The stack became degraded, or is degraded for another reason or with another message.
    Degraded(Fault),
    /// The stack was degraded and is no longer.
    Recovered,
    /// Children the spec no longer asks for were deleted.
    Pruned,
    /// The stored stack does not deserialize (it has no status to report this in).
    InvalidObject,
    /// `spec.monitoring` is on but the cluster has no prometheus-operator CRDs: the
    /// ServiceMonitors, PodMonitor and PrometheusRule were skipped.
    MonitoringUnavailable,
}

impl Reason {
    /// The Event's reason.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "Ready",
            Self::NotReady => "NotReady",
            Self::Degraded(fault) => fault.as_str(),
            Self::Recovered => "Recovered",
            Self::Pruned => "Pruned",
            Self::InvalidObject => "InvalidObject",
            Self::MonitoringUnavailable => "MonitoringUnavailable",
        }
    }

    /// Normal or Warning.
    #[must_use]
    pub const fn event_type(self) -> EventType {
        match self {
            Self::Ready | Self::Recovered | Self::Pruned => EventType::Normal,
            Self::NotReady
            | Self::Degraded(_)
            | Self::InvalidObject
            | Self::MonitoringUnavailable => EventType::Warning,
        }
    }

    /// The Event a condition change calls for, if any: `Ready` on becoming ready, `NotReady`
    /// on ceasing to be; the outcome's fault whenever `Degraded` is true and says something
    /// new, `Recovered` when it stops. `Progressing` changes are not announced.
    #[must_use]
    pub fn of_change(change: &Change, outcome: &Outcome) -> Option<Self> {
        let was_true = change.before == Some(Truth::True);
        match (change.kind, change.after.truth) {
            (Kind::Ready, Truth::True) if !was_true => Some(Self::Ready),
            (Kind::Ready, Truth::False) if was_true => Some(Self::NotReady),
            (Kind::Degraded, Truth::True) => outcome.fault().map(Self::Degraded),
            (Kind::Degraded, Truth::False) if was_true => Some(Self::Recovered),
            _ => None,
        }
    }
}

/// The Event's `action`: what the operator did, plus 8 hex digits of the note, so that kube's
/// Recorder aggregates only repeats of the same message.
#[must_use]
pub fn action(note: &str) -> String {
    let digest = Sha256::digest(note.as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("Reconcile-{hex}")
}

/// Publishes an Event about `object` (failures to publish are only logged).
pub async fn publish<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    object: &K,
    reason: Reason,
    note: &str,
) {
    let note: String = note.chars().take(NOTE_MAX).collect();
    let event = Event {
        type_: reason.event_type(),
        reason: reason.as_str().to_owned(),
        action: action(&note),
        note: Some(note),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &object.object_ref(&())).await {
        warn!(error = %e, reason = reason.as_str(), "event not published");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::conditions::State;

    #[test]
    fn events_follow_typed_changes() {
        let failed = Outcome::Failed {
            fault: Fault::ImmutableField,
            message: "m".into(),
        };
        let change = |kind, before, after: State| Change {
            kind,
            before,
            after,
        };
        let degraded = change(
            Kind::Degraded,
            Some(Truth::True),
            State::yes("ImmutableField", "m2"),
        );
        assert_eq!(
            Reason::of_change(&degraded, &failed),
            Some(Reason::Degraded(Fault::ImmutableField)),
            "a new message while degraded is announced"
        );
        let ready = change(
            Kind::Ready,
            Some(Truth::False),
            State::yes("AllComponentsReady", ""),
        );
        assert_eq!(Reason::of_change(&ready, &failed), Some(Reason::Ready));
        let still = change(
            Kind::Ready,
            Some(Truth::False),
            State::no("ComponentsNotReady", "x"),
        );
        assert_eq!(Reason::of_change(&still, &failed), None);
        assert_eq!(
            Reason::Degraded(Fault::RolloutStuck).as_str(),
            "RolloutStuck"
        );
    }

    #[test]
    fn the_action_tells_messages_apart() {
        assert_eq!(action("a"), action("a"));
        assert_ne!(action("a"), action("b"));
        assert!(action("a").len() <= 128);
    }
}
