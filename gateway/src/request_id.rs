//! Request ids: accepted from the client when well-formed, generated otherwise.
//!
//! An accepted id is 1 to 128 characters of `[A-Za-z0-9._:-]`, so it is safe in a header, a
//! log line and a NATS header alike; anything else is replaced rather than refused, because a
//! bad id is the client's bookkeeping problem, not a reason to fail its request.
//!
//! tower-http sets and echoes the id ([`tower_http::request_id`]); it keeps whatever id a
//! request carries, so [`drop_invalid`] runs first and removes an id this policy refuses, and
//! tower-http then generates a UUID in its place.

use axum::extract::Request;
use axum::http::{Extensions, HeaderName};
use tower_http::request_id::RequestId;

/// The request id header.
pub const HEADER: HeaderName = HeaderName::from_static(contract::headers::REQUEST_ID);

/// The longest request id accepted from a client.
pub const MAX_LEN: usize = 128;

/// Whether a client-sent id may be used as is.
pub fn is_valid(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

/// Removes the client's request id when it is not [valid](is_valid), so a fresh one replaces
/// it.
pub fn drop_invalid(mut request: Request) -> Request {
    let valid = request
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_valid);
    if !valid {
        request.headers_mut().remove(&HEADER);
    }
    request
}

/// The request id tower-http attached to a request, or `""` outside its layer.
pub fn get(extensions: &Extensions) -> &str {
    text(extensions.get::<RequestId>())
}

/// A request id as text, or `""` when there is none.
pub fn text(id: Option<&RequestId>) -> &str {
    id.and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn kept(id: &str) -> bool {
        let request = Request::builder()
            .header(&HEADER, id)
            .body(Body::empty())
            .unwrap();
        drop_invalid(request).headers().contains_key(&HEADER)
    }

    #[test]
    fn keeps_good_ids_and_drops_bad_ones() {
        assert!(kept("abc-123.x:y_z"));
        assert!(kept(&"x".repeat(MAX_LEN)));
        for bad in ["", "has space", "ü", &"x".repeat(MAX_LEN + 1)] {
            assert!(!kept(bad), "{bad:?}");
        }
        assert!(!is_valid("new\nline"));
    }
}
