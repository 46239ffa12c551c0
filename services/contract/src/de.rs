//! Serde helpers for values that arrive as strings.
//!
//! The gateway forwards query parameters as strings (`?limit=20` → `"20"`), while a typed
//! service-to-service caller may send a number. These helpers accept both, so one query type
//! serves both callers. Hand-written because serde_with's `DisplayFromStr`/`PickFirst` would
//! change the error texts clients see and treat an empty value differently:
//!
//! ```
//! #[derive(serde::Deserialize)]
//! struct ListQuery {
//!     #[serde(default, deserialize_with = "contract::de::opt_from_str")]
//!     limit: Option<u32>,
//! }
//! let q: ListQuery = serde_json::from_str(r#"{"limit":"20"}"#).unwrap();
//! assert_eq!(q.limit, Some(20));
//! let q: ListQuery = serde_json::from_str(r#"{"limit":20}"#).unwrap();
//! assert_eq!(q.limit, Some(20));
//! assert!(serde_json::from_str::<ListQuery>(r#"{"limit":"x"}"#).is_err());
//! assert!(serde_json::from_str::<ListQuery>(r#"{"limit":"+20"}"#).is_err());
//! assert!(serde_json::from_str::<ListQuery>(r#"{"limit":"20 "}"#).is_err());
//! ```

use std::fmt::Display;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, de::Error};

#[derive(Deserialize)]
#[serde(untagged)]
enum StrOrValue {
    Str(String),
    Value(serde_json::Value),
}

/// Deserializes an optional `T` from a string (parsed with `FromStr`) or a native JSON value.
/// An empty string counts as absent.
///
/// The string is read strictly: surrounding whitespace or a leading `+` (which Rust's integer
/// parsing accepts) is an error, so `/products/%2B1` or `/products/1%20` never reads as
/// product 1 — one resource has one spelling, and what a service sees is what was sent.
pub fn opt_from_str<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + serde::de::DeserializeOwned,
    T::Err: Display,
{
    match Option::<StrOrValue>::deserialize(deserializer)? {
        None => Ok(None),
        Some(StrOrValue::Str(s)) if s.is_empty() => Ok(None),
        Some(StrOrValue::Str(s)) if s.trim() != s || s.starts_with('+') => Err(D::Error::custom(
            format!("invalid value `{s}`: only the plain value, without spaces or `+`"),
        )),
        Some(StrOrValue::Str(s)) => s
            .parse()
            .map(Some)
            .map_err(|e| D::Error::custom(format!("invalid value `{s}`: {e}"))),
        Some(StrOrValue::Value(v)) => serde_json::from_value(v)
            .map(Some)
            .map_err(D::Error::custom),
    }
}
