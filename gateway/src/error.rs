//! The gateway's own errors, in the same JSON shape services use.
//!
//! A handler returns an [`ApiError`]; its response carries the [`ServiceError`] as an
//! extension and the outermost middleware renders the body once the request id is known, so
//! every error (the gateway's or a service's) reaches the client as
//! `{"code","message","details","request_id"}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use contract::{ErrorCode, HttpMethod, ServiceError};

/// An error response waiting for its request id.
#[derive(Debug, Clone)]
pub struct ApiError(pub ServiceError);

impl ApiError {
    /// An error with a code and a client-safe message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(ServiceError::new(code, message))
    }

    /// Adds a `Retry-After` hint.
    #[must_use]
    pub fn with_retry_after(self, secs: u64) -> Self {
        Self(self.0.with_retry_after(secs))
    }

    /// 404: no route for the path.
    pub fn no_route() -> Self {
        Self::new(ErrorCode::NotFound, "no route for this path")
    }

    /// The response, asking the client to close the connection when `close` is set: after a
    /// request body that was not read (too large, too slow, refused part-read), what the
    /// client still sends can no longer be framed as a next request.
    pub fn into_response_closing(self, close: bool) -> Response {
        let mut response = self.into_response();
        if close {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }

    /// 405 with the methods the path allows.
    pub fn method_not_allowed(allowed: &[HttpMethod]) -> Response {
        let allow = allowed
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        Self::method_not_allowed_with(&allow)
    }

    /// 405 with `allow` as the `Allow` header (`GET, DELETE`).
    pub fn method_not_allowed_with(allow: &str) -> Response {
        let mut response = Self::new(
            ErrorCode::MethodNotAllowed,
            "method not allowed for this path",
        )
        .into_response();
        if let Ok(value) = HeaderValue::from_str(allow) {
            response.headers_mut().insert(header::ALLOW, value);
        }
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        Self(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = status.into_response();
        if let Some(secs) = self.0.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(self.0);
        response
    }
}

/// Adds `Retry-After` to a response that has none: every 503 says when to try again, also
/// one a service sent without it (or one the gateway's own handlers answer).
pub fn ensure_retry_after(response: &mut Response) {
    response
        .headers_mut()
        .entry(header::RETRY_AFTER)
        .or_insert(HeaderValue::from(
            contract::error::UNAVAILABLE_RETRY_AFTER_SECS,
        ));
}

/// Writes the JSON body of an error response, adding the request id.
pub fn render(mut response: Response, request_id: &str) -> Response {
    let Some(error) = response.extensions_mut().remove::<ServiceError>() else {
        return response;
    };
    let error = error.with_request_id(request_id);
    let body = serde_json::to_vec(&error).unwrap_or_else(|_| b"{}".to_vec());
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, body.into())
}
