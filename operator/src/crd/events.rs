//! The `spec.events` part of the `MicroserviceStack` CRD: how long and how much of the domain
//! events the stack's JetStream keeps ([`contract::events`]). [`crate::crd`] re-exports it.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// CEL rule of `events.retention.maxAge`: a whole number of seconds, minutes, hours or days.
pub const MAX_AGE_RULE: &str = "self.matches('^[1-9][0-9]{0,8}(s|m|h|d)$')";
/// CEL rule of `events.retention.maxBytes`: a whole number of bytes, or of KiB, MiB, GiB, TiB.
pub const MAX_BYTES_RULE: &str = "self.matches('^[1-9][0-9]{0,12}(Ki|Mi|Gi|Ti)?$')";

/// Domain events (the `EVENTS` JetStream stream).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventsSpec {
    /// What the stream keeps.
    #[serde(default)]
    pub retention: RetentionSpec,
}

/// The stream's limits: events older than `maxAge` are removed, and the oldest beyond
/// `maxBytes`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetentionSpec {
    /// Longest an event is kept: a number and a unit, `s`, `m`, `h` or `d` (default `7d`).
    #[serde(default = "default_max_age")]
    #[x_kube(validation = Rule::new(MAX_AGE_RULE).message("maxAge must be a whole number of s, m, h or d, such as 7d"))]
    pub max_age: String,
    /// Most bytes of events kept: a number of bytes, or with `Ki`, `Mi`, `Gi` or `Ti`
    /// (default `1Gi`). It sizes each NATS server's volume, so it cannot change after creation.
    #[serde(default = "default_max_bytes")]
    #[x_kube(validation = Rule::new(MAX_BYTES_RULE).message("maxBytes must be a whole number of bytes, Ki, Mi, Gi or Ti, such as 1Gi"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("maxBytes cannot change after creation"))]
    pub max_bytes: String,
}

impl Default for RetentionSpec {
    fn default() -> Self {
        Self {
            max_age: default_max_age(),
            max_bytes: default_max_bytes(),
        }
    }
}

impl RetentionSpec {
    /// `maxAge` in seconds, if well-formed.
    #[must_use]
    pub fn max_age_secs(&self) -> Option<u64> {
        let unit = match self.max_age.chars().last()? {
            's' => 1,
            'm' => 60,
            'h' => 60 * 60,
            'd' => 24 * 60 * 60,
            _ => return None,
        };
        let number = &self.max_age[..self.max_age.len() - 1];
        whole(number)?.checked_mul(unit).filter(|s| *s > 0)
    }

    /// `maxBytes` in bytes, if well-formed.
    #[must_use]
    pub fn max_bytes(&self) -> Option<i64> {
        let (number, unit) = [
            ("Ki", 1_i64 << 10),
            ("Mi", 1 << 20),
            ("Gi", 1 << 30),
            ("Ti", 1 << 40),
        ]
        .into_iter()
        .find_map(|(suffix, unit)| Some((self.max_bytes.strip_suffix(suffix)?, unit)))
        .unwrap_or((self.max_bytes.as_str(), 1));
        i64::try_from(whole(number)?)
            .ok()?
            .checked_mul(unit)
            .filter(|b| *b > 0)
    }
}

fn whole(number: &str) -> Option<u64> {
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse().ok()
}

fn default_max_age() -> String {
    format!(
        "{}d",
        contract::events::DEFAULT_MAX_AGE_SECS / (24 * 60 * 60)
    )
}

fn default_max_bytes() -> String {
    format!("{}Gi", contract::events::DEFAULT_MAX_BYTES >> 30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_parses_and_defaults_to_the_contract() {
        let default = RetentionSpec::default();
        assert_eq!(default.max_age, "7d");
        assert_eq!(
            default.max_age_secs(),
            Some(contract::events::DEFAULT_MAX_AGE_SECS)
        );
        assert_eq!(
            default.max_bytes(),
            Some(contract::events::DEFAULT_MAX_BYTES)
        );
        let r = |age: &str, bytes: &str| RetentionSpec {
            max_age: age.to_owned(),
            max_bytes: bytes.to_owned(),
        };
        assert_eq!(r("90m", "512Mi").max_age_secs(), Some(5400));
        assert_eq!(r("90m", "512Mi").max_bytes(), Some(512 << 20));
        assert_eq!(r("1s", "1000").max_bytes(), Some(1000));
        for bad in ["", "7", "d", "-1d", "1.5h", "0s", "7w"] {
            assert_eq!(r(bad, "1Gi").max_age_secs(), None, "{bad:?}");
        }
        for bad in ["", "Gi", "1G", "-1Gi", "0", "1.5Gi"] {
            assert_eq!(r("1d", bad).max_bytes(), None, "{bad:?}");
        }
    }
}
