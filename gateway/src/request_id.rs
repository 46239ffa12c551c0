//! Request ids: accepted from the client when well-formed, generated otherwise.
//!
//! An accepted id is 1 to 128 characters of `[A-Za-z0-9._:-]`, so it is safe in a header, a
//! log line and a NATS header alike; anything else is replaced rather than refused, because a
//! bad id is the client's bookkeeping problem, not a reason to fail its request.

/// The longest request id accepted from a client.
pub const MAX_LEN: usize = 128;

/// The request id of the request being handled (a request extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// The client's id when valid, otherwise a fresh UUID.
    pub fn accept_or_generate(client: Option<&str>) -> Self {
        match client {
            Some(id) if is_valid(id) => Self(id.to_owned()),
            _ => Self(uuid::Uuid::new_v4().to_string()),
        }
    }
}

/// Whether a client-sent id may be used as is.
pub fn is_valid(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_good_ids_and_replaces_bad_ones() {
        assert_eq!(
            RequestId::accept_or_generate(Some("abc-123.x:y_z")).0,
            "abc-123.x:y_z"
        );
        for bad in ["", "has space", "new\nline", "ü", &"x".repeat(MAX_LEN + 1)] {
            let id = RequestId::accept_or_generate(Some(bad)).0;
            assert_ne!(id, bad);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        }
        assert!(is_valid(&"x".repeat(MAX_LEN)));
        assert_ne!(
            RequestId::accept_or_generate(None),
            RequestId::accept_or_generate(None)
        );
    }
}
