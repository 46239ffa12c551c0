//! The contract's NATS header names as async-nats [`HeaderName`]s, made at compile time.
//!
//! async-nats turns a `&str` name into a `HeaderName` on every insert: it validates the name,
//! compares it with each standard header and copies it. A request through the gateway carries
//! about five headers, so on its hot path that work showed in the instruction counts
//! (`make bench-instructions`); a `HeaderName` made once costs nothing to insert.

use async_nats::HeaderName;
use contract::{auth, headers};

/// [`headers::REQUEST_ID`].
pub const REQUEST_ID: HeaderName = HeaderName::from_static(headers::REQUEST_ID);
/// [`headers::USER_ID`].
pub const USER_ID: HeaderName = HeaderName::from_static(headers::USER_ID);
/// [`headers::ROLES`].
pub const ROLES: HeaderName = HeaderName::from_static(headers::ROLES);
/// [`headers::DEADLINE_MS`].
pub const DEADLINE_MS: HeaderName = HeaderName::from_static(headers::DEADLINE_MS);
/// [`auth::CLIENT_ADDR_HEADER`].
pub const CLIENT_ADDR: HeaderName = HeaderName::from_static(auth::CLIENT_ADDR_HEADER);

#[cfg(test)]
mod tests {
    use async_nats::HeaderMap;

    use super::*;

    #[test]
    fn names_made_at_compile_time_match_the_contract_strings() {
        let mut map = HeaderMap::new();
        for (name, text) in [
            (REQUEST_ID, headers::REQUEST_ID),
            (USER_ID, headers::USER_ID),
            (ROLES, headers::ROLES),
            (DEADLINE_MS, headers::DEADLINE_MS),
            (CLIENT_ADDR, auth::CLIENT_ADDR_HEADER),
        ] {
            map.insert(name, "v");
            assert_eq!(map.get(text).map(|v| v.as_str()), Some("v"), "{text}");
        }
    }
}
