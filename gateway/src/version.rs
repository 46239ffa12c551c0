//! Semantic versions, ordered well enough to pick the newest of two services.
//!
//! `MAJOR.MINOR.PATCH[-PRE][+BUILD]`: numbers compare numerically, a pre-release sorts before
//! its release, build metadata is ignored. A version that does not parse sorts below every
//! valid one, so a well-formed service always wins a conflict against a malformed one.

use std::cmp::Ordering;

/// A parsed version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// A valid semantic version.
    Semver {
        /// `[major, minor, patch]`.
        core: [u64; 3],
        /// The pre-release part, if any.
        pre: Option<String>,
    },
    /// Anything else, kept for a stable order.
    Invalid(String),
}

impl Version {
    /// Parses `text`; never fails.
    pub fn parse(text: &str) -> Self {
        let without_build = text.split('+').next().unwrap_or_default();
        let (core, pre) = match without_build.split_once('-') {
            Some((core, pre)) => (core, Some(pre.to_owned())),
            None => (without_build, None),
        };
        let numbers: Vec<Option<u64>> = core.split('.').map(|n| n.parse().ok()).collect();
        match numbers.as_slice() {
            [Some(a), Some(b), Some(c)] => Self::Semver {
                core: [*a, *b, *c],
                pre,
            },
            _ => Self::Invalid(text.to_owned()),
        }
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Invalid(a), Self::Invalid(b)) => a.cmp(b),
            (Self::Invalid(_), Self::Semver { .. }) => Ordering::Less,
            (Self::Semver { .. }, Self::Invalid(_)) => Ordering::Greater,
            (Self::Semver { core: a, pre: pa }, Self::Semver { core: b, pre: pb }) => {
                a.cmp(b).then_with(|| match (pa, pb) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Greater,
                    (Some(_), None) => Ordering::Less,
                    (Some(x), Some(y)) => compare_pre(x, y),
                })
            }
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Pre-release identifiers compare one by one, numbers numerically and below words.
fn compare_pre(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Version;

    #[test]
    fn orders_like_semver() {
        let ordered = [
            "garbage",
            "0.9.0",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0",
            "1.2.0",
            "1.10.0",
            "2.0.0",
        ];
        for pair in ordered.windows(2) {
            assert!(
                Version::parse(pair[0]) < Version::parse(pair[1]),
                "{pair:?}"
            );
        }
        assert_eq!(Version::parse("1.0.0+build.5"), Version::parse("1.0.0"));
    }
}
