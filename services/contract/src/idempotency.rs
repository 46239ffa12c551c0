//! The rules of an `Idempotency-Key` ([`crate::headers::IDEMPOTENCY_KEY`]), shared by the
//! gateway, which refuses a bad key before the request goes anywhere, and the services, which
//! refuse it from any other NATS client.
//!
//! A key is 1 to [`MAX_KEY_LEN`] visible ASCII characters (`!` to `~`: no spaces, no
//! control characters), e.g. a UUID the client makes for one write and sends again with every
//! retry of that write. A service remembers it for [`TTL_SECS`] per user.

/// The longest key accepted, in characters.
pub const MAX_KEY_LEN: usize = 255;

/// How long a service remembers a key and the first result: a day.
pub const TTL_SECS: u64 = 24 * 60 * 60;

/// The message of the 400 answered to a key that breaks the rules.
pub const INVALID_KEY: &str =
    "Idempotency-Key must be 1 to 255 visible ASCII characters (no spaces)";

/// Whether `key` is a valid key.
pub fn is_valid_key(key: &[u8]) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len()) && key.iter().all(|b| (b'!'..=b'~').contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_visible_ascii() {
        for ok in [
            "a",
            "0b1d5b7e-7d4f-4c55-9c1e-5f8d7d0c2a10",
            &"k".repeat(255),
            "!~",
        ] {
            assert!(is_valid_key(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            " ",
            "a b",
            "tab\t",
            "é",
            &"k".repeat(256),
            "a\nb",
            "\x7f",
        ] {
            assert!(!is_valid_key(bad.as_bytes()), "{bad:?}");
        }
    }
}
