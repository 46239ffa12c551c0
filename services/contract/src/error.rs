//! The error model shared by services and the gateway.
//!
//! An error reply carries the Services API headers (`Nats-Service-Error-Code` = the HTTP
//! status, `Nats-Service-Error` = the message) and a JSON body:
//!
//! ```json
//! {"code":"validation_failed","message":"request validation failed",
//!  "details":{"fields":[{"field":"company_name","message":"must not be empty"}]}}
//! ```
//!
//! The gateway answers with the same shape (plus `request_id`), so a client sees one error
//! format whether the gateway or a service refused the request.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The `Retry-After` of a 503 that names no other: an outage of a dependency is usually
/// over (a restart, a failover) or answered by another instance within a second or so.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 1;

/// What went wrong, as a stable machine-readable code that maps to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request is malformed (bad JSON, wrong types, bad parameters).
    BadRequest,
    /// 401: no valid credentials.
    Unauthenticated,
    /// 403: valid credentials without the needed role.
    Forbidden,
    /// 404: no such resource or route.
    NotFound,
    /// 405: the path exists but not with this method.
    MethodNotAllowed,
    /// 408: the client did not send its whole request body in time.
    RequestTimeout,
    /// 409: the request conflicts with existing state (duplicate id or email).
    Conflict,
    /// 413: the body is over the limit.
    PayloadTooLarge,
    /// 415: the body is not JSON.
    UnsupportedMediaType,
    /// 422: well-formed but invalid; `details.fields` says which fields and why.
    ValidationFailed,
    /// 429: too many attempts; retry after the `Retry-After` seconds.
    RateLimited,
    /// 500: an internal failure; the cause is logged, never sent.
    Internal,
    /// 502: the upstream answered something that could not be decoded.
    BadGateway,
    /// 503: a dependency (a service, a database) is unavailable.
    Unavailable,
    /// 504: the upstream did not answer within the deadline.
    Timeout,
}

impl ErrorCode {
    /// Every code, for exhaustive tests and documentation.
    pub const ALL: [Self; 15] = [
        Self::BadRequest,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::RequestTimeout,
        Self::Conflict,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::ValidationFailed,
        Self::RateLimited,
        Self::Internal,
        Self::BadGateway,
        Self::Unavailable,
        Self::Timeout,
    ];

    /// The HTTP status code, which is also the `Nats-Service-Error-Code` header value.
    pub const fn status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthenticated => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::RequestTimeout => 408,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::ValidationFailed => 422,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::BadGateway => 502,
            Self::Unavailable => 503,
            Self::Timeout => 504,
        }
    }

    /// The code for an HTTP status; unknown statuses fall back by class (4xx → bad request,
    /// anything else → internal), so a newer service never makes an older gateway fail.
    pub const fn from_status(status: u16) -> Self {
        match status {
            400 => Self::BadRequest,
            401 => Self::Unauthenticated,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            408 => Self::RequestTimeout,
            409 => Self::Conflict,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            422 => Self::ValidationFailed,
            429 => Self::RateLimited,
            502 => Self::BadGateway,
            503 => Self::Unavailable,
            504 => Self::Timeout,
            other if other >= 400 && other < 500 => Self::BadRequest,
            _ => Self::Internal,
        }
    }

    /// The snake_case name used in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RequestTimeout => "request_timeout",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::ValidationFailed => "validation_failed",
            Self::RateLimited => "rate_limited",
            Self::Internal => "internal",
            Self::BadGateway => "bad_gateway",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
        }
    }
}

/// A plain string enum: the derived schema (one `const` per variant, for the docs) makes
/// generated clients refuse every code but the first.
impl JsonSchema for ErrorCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ErrorCode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let codes: Vec<&str> = Self::ALL.iter().map(|c| c.as_str()).collect();
        schemars::json_schema!({
            "type": "string",
            "enum": codes,
            "description": "What went wrong; maps to one HTTP status.",
        })
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FieldError {
    /// The field's path in the request, e.g. `company_name` or `query.limit`.
    pub field: String,
    /// Why it was refused, in words a client developer can act on.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The error of a text longer than `max` characters.
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        Self::new(field, format!("must be at most {max} characters"))
    }
}

/// Collects field errors, so a client learns every problem with its input at once.
#[derive(Debug, Default)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// Records a problem with `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Checks a text value: at most `max` characters and no NUL (PostgreSQL text cannot hold
    /// one, and it would otherwise surface as a database error).
    pub fn text(&mut self, field: &str, value: Option<&str>, max: usize) {
        let Some(value) = value else { return };
        if value.chars().count() > max {
            self.0.push(FieldError::too_long(field, max));
        } else if value.contains('\0') {
            self.add(field, "must not contain NUL characters");
        }
    }

    /// Checks a required, non-blank text value.
    pub fn required_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        match value {
            None => self.add(field, "is required"),
            Some(v) if v.trim().is_empty() => self.add(field, "must not be blank"),
            Some(v) => self.text(field, Some(v), max),
        }
    }

    /// A patch's value for a column that cannot hold NULL: `None` when the patch leaves the
    /// column alone, the value when it sets one. An explicit `null` is recorded as an error on
    /// `field` and gives `None`, so the caller has nothing to apply.
    pub fn not_null<T>(&mut self, field: &str, value: Option<Option<T>>) -> Option<T> {
        match value {
            Some(None) => {
                self.add(field, "must not be null");
                None
            }
            set => set.flatten(),
        }
    }

    /// `Ok` when nothing was recorded, else the 422.
    pub fn finish(self) -> Result<(), ServiceError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::validation(self.0))
        }
    }
}

/// An error as it travels on the wire and reaches the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, thiserror::Error)]
#[error("{code}: {message}")]
#[schemars(rename = "Error")]
pub struct ServiceError {
    /// The machine-readable code.
    pub code: ErrorCode,
    /// A short message safe to show a client; never an internal error's text.
    pub message: String,
    /// Structured details (`{"fields": [...]}` for validation), or `null`.
    #[serde(default)]
    pub details: Option<serde_json::Value>,
    /// The request id, added by the gateway to what it sends the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Seconds to wait before retrying (429, 503); travels in the `Retry-After` header, not the
    /// body.
    #[serde(skip)]
    pub retry_after_secs: Option<u64>,
}

impl ServiceError {
    /// An error with a code and a client-safe message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
            request_id: None,
            retry_after_secs: None,
        }
    }

    /// Adds structured details.
    #[must_use]
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Adds a `Retry-After` hint.
    #[must_use]
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// Adds the request id.
    #[must_use]
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// 401 with a message.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    /// 403 with a message.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// 404 with a message.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// 409 with a message.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// 422 listing the fields that failed and why.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        Self::new(ErrorCode::ValidationFailed, "request validation failed")
            .with_details(serde_json::json!({ "fields": fields }))
    }

    /// 429 with a retry hint.
    pub fn rate_limited(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::new(ErrorCode::RateLimited, message).with_retry_after(retry_after_secs)
    }

    /// 500. The message is fixed: the cause belongs in the log, not the reply.
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// 503 with a message naming what is unavailable, and a `Retry-After` of
    /// [`UNAVAILABLE_RETRY_AFTER_SECS`] (every 503 says when to try again).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message).with_retry_after(UNAVAILABLE_RETRY_AFTER_SECS)
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The field errors of a validation error, if any.
    pub fn field_errors(&self) -> Vec<FieldError> {
        self.details
            .as_ref()
            .and_then(|d| d.get("fields"))
            .and_then(|f| serde_json::from_value(f.clone()).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_for_every_code() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_status(code.status()), code, "{code}");
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
        }
    }

    #[test]
    fn the_code_schema_lists_every_code() {
        let schema = schemars::schema_for!(ErrorCode);
        let codes = schema.get("enum").unwrap().as_array().unwrap();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        assert!(codes.contains(&"not_found".into()));
    }

    #[test]
    fn unknown_statuses_fall_back_by_class() {
        assert_eq!(ErrorCode::from_status(418), ErrorCode::BadRequest);
        assert_eq!(ErrorCode::from_status(599), ErrorCode::Internal);
        assert_eq!(ErrorCode::from_status(0), ErrorCode::Internal);
    }

    #[test]
    fn text_rules_count_characters() {
        let mut errors = FieldErrors::default();
        errors.text("city", Some("Zürichzürichzür"), 15);
        errors.text("city", Some("a\0b"), 15);
        errors.required_text("company_name", Some("  "), 40);
        errors.required_text("company_name", None, 40);
        let fields: Vec<_> = errors.0.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            fields,
            [
                "must not contain NUL characters",
                "must not be blank",
                "is required"
            ]
        );
    }

    #[test]
    fn not_null_refuses_only_an_explicit_null() {
        let mut errors = FieldErrors::default();
        assert_eq!(errors.not_null::<bool>("discontinued", None), None);
        assert_eq!(
            errors.not_null("discontinued", Some(Some(true))),
            Some(true)
        );
        assert!(errors.0.is_empty());
        assert_eq!(errors.not_null::<bool>("discontinued", Some(None)), None);
        assert_eq!(
            errors.0,
            [FieldError::new("discontinued", "must not be null")]
        );
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let err = ServiceError::unavailable("database unavailable");
        assert_eq!(err.status(), 503);
        assert_eq!(err.retry_after_secs, Some(UNAVAILABLE_RETRY_AFTER_SECS));
    }

    #[test]
    fn validation_exposes_its_fields() {
        let err = ServiceError::validation(vec![FieldError::new("name", "too long")]);
        assert_eq!(err.status(), 422);
        assert_eq!(err.field_errors(), [FieldError::new("name", "too long")]);
        assert!(ServiceError::internal().field_errors().is_empty());
    }
}
