//! What a `GET /events` request asks for: the `types=` filter, mapped to JetStream filter
//! subjects, and where to resume (`Last-Event-ID` or `lastEventId`).

use contract::events::SUBJECT_PREFIX;

/// Most patterns one `types=` takes.
pub const MAX_PATTERNS: usize = 16;
/// Most tokens one pattern has (`auth.user.registered` has three).
pub const MAX_TOKENS: usize = 8;
/// Longest token.
const MAX_TOKEN_LEN: usize = 64;

/// Why a request's parameters were refused (answered 400 with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// A `types=` pattern is not a dot-separated list of names, `*` or a final `>`.
    #[error(
        "invalid `types` pattern {0:?}: expected comma-separated event types or patterns such as `products.*` or `customers.>` (tokens of a-z, 0-9, `_` or `-`; `*` for one token, `>` last for the rest)"
    )]
    Pattern(String),
    /// More than [`MAX_PATTERNS`] patterns.
    #[error("`types` takes at most {MAX_PATTERNS} patterns")]
    TooMany,
    /// Two patterns match a common type (JetStream refuses overlapping filters).
    #[error("`types` patterns {0:?} and {1:?} overlap: list each type once")]
    Overlap(String, String),
    /// The resume position is not a stream sequence.
    #[error(
        "invalid `Last-Event-ID`/`lastEventId` {0:?}: expected the `id` of an event received (a whole number)"
    )]
    LastEventId(String),
}

/// The JetStream filter subjects of a `types=` value: `events.<pattern>` each. Empty when
/// `types` is absent (every event).
///
/// # Errors
/// [`FilterError`] when a pattern is malformed, there are too many, or two overlap.
pub fn subjects(types: Option<&str>) -> Result<Vec<String>, FilterError> {
    let Some(types) = types else {
        return Ok(Vec::new());
    };
    let patterns: Vec<&str> = types.split(',').map(str::trim).collect();
    if patterns.len() > MAX_PATTERNS {
        return Err(FilterError::TooMany);
    }
    for pattern in &patterns {
        if !valid(pattern) {
            return Err(FilterError::Pattern((*pattern).to_owned()));
        }
    }
    for (i, a) in patterns.iter().enumerate() {
        if let Some(b) = patterns[i + 1..].iter().find(|b| overlap(a, b)) {
            return Err(FilterError::Overlap((*a).to_owned(), (*b).to_owned()));
        }
    }
    Ok(patterns
        .iter()
        .map(|p| format!("{SUBJECT_PREFIX}.{p}"))
        .collect())
}

/// The stream sequence to resume after: `Last-Event-ID` (the header, what a browser's
/// `EventSource` sends on reconnecting) wins over the `lastEventId` query parameter.
///
/// # Errors
/// [`FilterError::LastEventId`] when the value is not a whole number.
pub fn resume_after(header: Option<&str>, query: Option<&str>) -> Result<Option<u64>, FilterError> {
    let Some(value) = header.or(query) else {
        return Ok(None);
    };
    let trimmed = value.trim();
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FilterError::LastEventId(value.to_owned()));
    }
    trimmed
        .parse()
        .map(Some)
        .map_err(|_| FilterError::LastEventId(value.to_owned()))
}

fn valid(pattern: &str) -> bool {
    let tokens: Vec<&str> = pattern.split('.').collect();
    tokens.len() <= MAX_TOKENS
        && tokens.iter().enumerate().all(|(i, token)| {
            *token == "*"
                || (*token == ">" && i == tokens.len() - 1)
                || (!token.is_empty()
                    && token.len() <= MAX_TOKEN_LEN
                    && token.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                    }))
        })
}

/// Whether some subject matches both (valid) patterns.
fn overlap(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (a.split('.'), b.split('.'));
    loop {
        match (a.next(), b.next()) {
            (None, None) | (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some(x), Some(y)) if x == y || x == "*" || y == "*" => {}
            // Different names, or one pattern ends where the other goes on (`>` needs a token).
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_map_to_event_subjects() {
        assert_eq!(subjects(None).unwrap(), Vec::<String>::new());
        assert_eq!(
            subjects(Some("products.*, customers.>,auth.user.registered")).unwrap(),
            [
                "events.products.*",
                "events.customers.>",
                "events.auth.user.registered"
            ]
        );
        for bad in [
            "",
            "products.",
            ">.created",
            "Products.*",
            "a b",
            "products,",
            "a.>.b",
            "a..b",
        ] {
            assert!(
                matches!(subjects(Some(bad)), Err(FilterError::Pattern(_))),
                "{bad:?}"
            );
        }
        let many = vec!["a"; MAX_PATTERNS + 1].join(",");
        assert_eq!(subjects(Some(&many)), Err(FilterError::TooMany));
    }

    #[test]
    fn overlapping_patterns_are_refused() {
        for (a, b) in [
            ("products.*", "products.created"),
            ("products.>", "*.created"),
            (">", "auth.user.registered"),
            ("products.created", "products.created"),
        ] {
            assert!(overlap(a, b) && overlap(b, a), "{a} {b}");
        }
        for (a, b) in [
            ("products.*", "customers.*"),
            ("products", "products.>"),
            ("products.*", "products.*.*"),
        ] {
            assert!(!overlap(a, b) && !overlap(b, a), "{a} {b}");
        }
        assert!(matches!(
            subjects(Some("products.*,products.created")),
            Err(FilterError::Overlap(..))
        ));
    }

    #[test]
    fn resume_position_is_a_sequence() {
        assert_eq!(resume_after(None, None), Ok(None));
        assert_eq!(resume_after(Some("7"), Some("3")), Ok(Some(7)));
        assert_eq!(resume_after(None, Some("3")), Ok(Some(3)));
        for bad in ["", "-1", "x", "1.5", "99999999999999999999999"] {
            assert!(resume_after(Some(bad), None).is_err(), "{bad:?}");
        }
    }
}
