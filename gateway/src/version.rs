//! Semantic versions, ordered well enough to pick the newest of two services.
//!
//! Parsing and precedence are the `semver` crate's (numbers numerically, a pre-release before
//! its release); build metadata is dropped, because semver precedence ignores it while the
//! crate's `Ord` does not. A version that does not parse sorts below every valid one, so a
//! well-formed service always wins a conflict against a malformed one.

/// A parsed version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    // Declared first so every invalid version sorts below every valid one.
    /// Anything else, kept for a stable order.
    Invalid(String),
    /// A valid semantic version, without build metadata.
    Semver(semver::Version),
}

impl Version {
    /// Parses `text`; never fails.
    pub fn parse(text: &str) -> Self {
        match semver::Version::parse(text) {
            Ok(mut version) => {
                version.build = semver::BuildMetadata::EMPTY;
                Self::Semver(version)
            }
            Err(_) => Self::Invalid(text.to_owned()),
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
