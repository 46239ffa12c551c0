//! The `Idempotency-Key` on its way through the gateway: checked and forwarded to the service
//! on the routes where a key has an owner, and the service's `Idempotent-Replayed` copied back.
//!
//! A key is taken on POST routes that need a token, so the service can store it per verified
//! user (`runtime::idempotency`). On public routes (register, login, refresh, logout) it is
//! ignored: anonymous callers have no identity to keep their keys apart, so one client could
//! otherwise replay another's answer by guessing its key.

use async_nats::HeaderMap as NatsHeaders;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use contract::idempotency::{INVALID_KEY, is_valid_key};
use contract::{AuthLevel, ErrorCode, HttpMethod, headers};

use crate::error::ApiError;
use crate::table::Route;

/// Whether requests to `route` may carry a key: POST routes that need a token.
pub fn takes_key(route: &Route) -> bool {
    route.method == HttpMethod::Post && route.auth != AuthLevel::Public
}

/// The key to forward with a request to `route`: `None` when the client sent none or the
/// route takes none; 400 when it breaks the rules or comes twice.
pub fn key_to_forward<'h>(
    route: &Route,
    request: &'h HeaderMap,
) -> Result<Option<&'h str>, ApiError> {
    if !takes_key(route) {
        return Ok(None);
    }
    let mut values = request.get_all(headers::IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "send one Idempotency-Key header, not several",
        ));
    }
    if !is_valid_key(value.as_bytes()) {
        return Err(ApiError::new(ErrorCode::BadRequest, INVALID_KEY));
    }
    // Visible ASCII, so it is valid UTF-8.
    Ok(value.to_str().ok())
}

/// Adds `key` to the headers a service receives.
pub fn forward(key: Option<&str>, out: &mut NatsHeaders) {
    if let Some(key) = key {
        out.insert(headers::IDEMPOTENCY_KEY, key);
    }
}

/// Copies `Idempotent-Replayed` from a service's reply to the client's response.
pub fn copy_replayed(reply: Option<&NatsHeaders>, response: &mut Response) {
    let Some(value) = reply.and_then(|h| h.get(headers::IDEMPOTENT_REPLAYED)) else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(value.as_str()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(headers::IDEMPOTENT_REPLAYED), value);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn route(method: HttpMethod, auth: AuthLevel) -> Route {
        Route {
            method,
            path: Arc::from("/things"),
            auth,
            success_status: 201,
            summary: None,
            subject: "things.create".into(),
            service: "things".into(),
            version: "1.0.0".into(),
            endpoint: "create".into(),
            schema_hash: None,
        }
    }

    fn with_keys(keys: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for key in keys {
            map.append("idempotency-key", HeaderValue::from_str(key).unwrap());
        }
        map
    }

    #[test]
    fn keys_are_taken_on_post_routes_that_need_a_token() {
        let post = route(HttpMethod::Post, AuthLevel::User);
        assert_eq!(
            key_to_forward(&post, &with_keys(&["k-1"])).unwrap(),
            Some("k-1")
        );
        assert_eq!(key_to_forward(&post, &HeaderMap::new()).unwrap(), None);
        for bad in [&["a b"][..], &[""], &["k-1", "k-2"]] {
            let refused = key_to_forward(&post, &with_keys(bad)).unwrap_err();
            assert_eq!(refused.0.code, ErrorCode::BadRequest, "{bad:?}");
        }
        let long = "k".repeat(256);
        assert!(key_to_forward(&post, &with_keys(&[&long])).is_err());
        // Ignored, even when malformed, where no user owns the key or the method needs none.
        for other in [
            route(HttpMethod::Post, AuthLevel::Public),
            route(HttpMethod::Patch, AuthLevel::User),
        ] {
            assert_eq!(key_to_forward(&other, &with_keys(&["a b"])).unwrap(), None);
        }
    }
}
