//! The stack's three conditions as types: which condition ([`Kind`]), its status ([`Truth`])
//! and a reason with a message ([`State`]), stamped into a Kubernetes `Condition` whose
//! `lastTransitionTime` moves only when the status changes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The conditions a stack reports, in the order they are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Every component is ready.
    Ready,
    /// A rollout or a retry is under way.
    Progressing,
    /// The last reconcile failed or the spec is invalid.
    Degraded,
}

impl Kind {
    /// Every kind, in the order of the status.
    pub const ALL: [Self; 3] = [Self::Ready, Self::Progressing, Self::Degraded];

    /// The condition's `type`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "Ready",
            Self::Progressing => "Progressing",
            Self::Degraded => "Degraded",
        }
    }
}

/// A condition's `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truth {
    /// `True`.
    True,
    /// `False`.
    False,
    /// `Unknown`.
    Unknown,
}

impl Truth {
    /// The condition's `status` string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }

    fn parse(status: &str) -> Self {
        match status {
            "True" => Self::True,
            "False" => Self::False,
            _ => Self::Unknown,
        }
    }
}

/// What one condition says: status, a CamelCase reason and a message for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// The status.
    pub truth: Truth,
    /// Machine-readable reason.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
}

impl State {
    /// A `True` condition.
    pub fn yes(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Truth::True, reason, message)
    }

    /// A `False` condition.
    pub fn no(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Truth::False, reason, message)
    }

    /// An `Unknown` condition.
    pub fn unknown(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Truth::Unknown, reason, message)
    }

    fn new(truth: Truth, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            truth,
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// The `kind` condition as it stands in `old`, else `fallback`: what a reconcile that
    /// learned nothing new about it (paused, invalid, failed) reports.
    #[must_use]
    pub fn kept(old: &[Condition], kind: Kind, fallback: Self) -> Self {
        Self::of(old, kind).unwrap_or(fallback)
    }

    /// The `kind` condition of `conditions`, if there is one.
    #[must_use]
    pub fn of(conditions: &[Condition], kind: Kind) -> Option<Self> {
        conditions
            .iter()
            .find(|c| c.type_ == kind.as_str())
            .map(|c| Self::new(Truth::parse(&c.status), c.reason.clone(), c.message.clone()))
    }

    /// The Kubernetes condition: its transition time is `now` unless `old` holds the same
    /// kind with the same status, whose time it keeps.
    #[must_use]
    pub fn stamp(
        self,
        kind: Kind,
        old: &[Condition],
        generation: Option<i64>,
        now: &Time,
    ) -> Condition {
        let status = self.truth.as_str();
        let last_transition_time = old
            .iter()
            .find(|c| c.type_ == kind.as_str() && c.status == status)
            .map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
        Condition {
            type_: kind.as_str().to_owned(),
            status: status.to_owned(),
            reason: self.reason,
            message: self.message,
            observed_generation: generation,
            last_transition_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn time(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).expect("valid"))
    }

    #[test]
    fn a_kept_condition_is_the_old_one_else_the_fallback() {
        let old = vec![State::no("Broken", "why").stamp(Kind::Ready, &[], Some(1), &time(1))];
        assert_eq!(
            State::kept(&old, Kind::Ready, State::yes("X", "y")),
            State::no("Broken", "why")
        );
        assert_eq!(
            State::kept(&old, Kind::Degraded, State::unknown("Paused", "p")),
            State::unknown("Paused", "p")
        );
    }

    #[test]
    fn the_transition_time_stays_while_the_status_does() {
        let old = vec![State::yes("A", "a").stamp(Kind::Ready, &[], Some(1), &time(1))];
        let same = State::yes("B", "b").stamp(Kind::Ready, &old, Some(2), &time(5));
        assert_eq!(same.last_transition_time, time(1));
        assert_eq!(
            (same.reason.as_str(), same.observed_generation),
            ("B", Some(2))
        );
        let flipped = State::no("C", "c").stamp(Kind::Ready, &old, Some(2), &time(5));
        assert_eq!(flipped.last_transition_time, time(5));
    }
}
