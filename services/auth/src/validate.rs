//! Input rules for accounts: email normalisation and shape, usernames, and (via
//! [`password::check_policy`]) passwords. Every failing field
//! is reported at once, as a 422 with `details.fields`.

use contract::FieldError;
use contract::auth::{
    LoginRequest, MAX_EMAIL_CHARS, MAX_REFRESH_TOKEN_CHARS, PASSWORD_CHARS, RefreshRequest,
    RegisterRequest, USERNAME_CHARS,
};

use crate::password;

/// The canonical form of an email: trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Why a (normalised) email is refused, if it is.
pub fn check_email(email: &str) -> Option<FieldError> {
    let field = "email";
    if email.is_empty() {
        return Some(FieldError::new(field, "must not be empty"));
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Some(FieldError::too_long(field, MAX_EMAIL_CHARS));
    }
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    (!valid).then(|| FieldError::new(field, "must be an email address like name@example.com"))
}

/// The form usernames are unique in: lower-cased, so `Admin` and `admin` are one name.
pub fn username_key(username: &str) -> String {
    username.to_lowercase()
}

/// Why a username is refused, if it is.
pub fn check_username(username: &str) -> Option<FieldError> {
    let field = "username";
    let chars = username.chars().count();
    if !USERNAME_CHARS.contains(&chars) {
        return Some(FieldError::new(
            field,
            format!(
                "must be {} to {} characters",
                USERNAME_CHARS.start(),
                USERNAME_CHARS.end()
            ),
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    (!username.chars().all(allowed))
        .then(|| FieldError::new(field, "may contain only letters, digits, `_`, `-` and `.`"))
}

/// Every field of a registration that breaks a rule.
pub fn check_registration(request: &RegisterRequest) -> Vec<FieldError> {
    [
        check_username(&request.username),
        check_email(&normalize_email(&request.email)),
        password::check_policy(&request.password, "password"),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Every field of a login that is refused before any lookup: exactly what the body's schema
/// states (a non-blank email, a non-empty password, lengths in characters as sent), so a body
/// the published schema allows is never a 422, and wrong credentials are a 401.
pub fn check_login(request: &LoginRequest) -> Vec<FieldError> {
    [
        presence("email", &request.email, request.email.trim().is_empty())
            .or_else(|| too_long("email", &request.email, MAX_EMAIL_CHARS)),
        presence("password", &request.password, request.password.is_empty())
            .or_else(|| too_long("password", &request.password, *PASSWORD_CHARS.end())),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Why a presented refresh token is refused before any lookup, as its schema states it (not
/// blank, lengths in characters as sent). An ill-formed token is not a 422 but a 401: it is
/// opaque to the client.
pub fn check_refresh_token(request: &RefreshRequest) -> Option<FieldError> {
    let token = &request.refresh_token;
    presence("refresh_token", token, token.trim().is_empty())
        .or_else(|| too_long("refresh_token", token, MAX_REFRESH_TOKEN_CHARS))
}

/// The error of a missing value (`missing`): "blank" where the text has characters.
fn presence(field: &str, value: &str, missing: bool) -> Option<FieldError> {
    missing.then(|| {
        let what = if value.is_empty() { "empty" } else { "blank" };
        FieldError::new(field, format!("must not be {what}"))
    })
}

/// The error of a value over `max` characters.
fn too_long(field: &str, value: &str, max: usize) -> Option<FieldError> {
    (value.chars().count() > max).then(|| FieldError::too_long(field, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(normalize_email("  Ada@Example.COM "), "ada@example.com");
        for ok in ["a@b.co", "first.last+tag@sub.example.org"] {
            assert!(check_email(ok).is_none(), "{ok}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@.com",
            "a@b.",
            &long,
        ] {
            assert!(check_email(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn usernames() {
        assert!(check_username("ada_l-1.x").is_none());
        for bad in ["ab", &"a".repeat(33), "has space", "émile", "semi;colon"] {
            assert!(check_username(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn registration_reports_every_bad_field() {
        let fields = check_registration(&RegisterRequest {
            username: "x".into(),
            email: "nope".into(),
            password: "short".into(),
        });
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["username", "email", "password"]);
    }

    /// `(field, message)` of each error.
    fn said(fields: &[FieldError]) -> Vec<(&str, &str)> {
        fields
            .iter()
            .map(|f| (f.field.as_str(), f.message.as_str()))
            .collect()
    }

    #[test]
    fn logins_are_refused_only_where_their_schema_refuses() {
        let login = |email: &str, password: &str| {
            check_login(&LoginRequest {
                email: email.into(),
                password: password.into(),
            })
        };
        assert_eq!(
            said(&login("", "")),
            [
                ("email", "must not be empty"),
                ("password", "must not be empty")
            ]
        );
        assert_eq!(said(&login(" \t", "x")), [("email", "must not be blank")]);
        // Lengths are characters as sent: 254 two-byte characters (508 bytes) are within
        // the schema's `maxLength`, one more is not.
        assert!(login(&"é".repeat(254), &"é".repeat(128)).is_empty());
        assert_eq!(
            said(&login(&"é".repeat(255), &"é".repeat(129))),
            [
                ("email", "must be at most 254 characters"),
                ("password", "must be at most 128 characters")
            ]
        );
        // A password may be all spaces at login: only new passwords have the policy.
        assert!(login("a@b.co", "   ").is_empty());
    }

    #[test]
    fn refresh_tokens_are_refused_only_where_their_schema_refuses() {
        let token = |t: &str| {
            check_refresh_token(&RefreshRequest {
                refresh_token: t.into(),
            })
            .map(|f| f.message)
        };
        assert_eq!(token("").as_deref(), Some("must not be empty"));
        assert_eq!(token("  ").as_deref(), Some("must not be blank"));
        assert_eq!(token(&"é".repeat(256)), None);
        assert_eq!(
            token(&"é".repeat(257)).as_deref(),
            Some("must be at most 256 characters")
        );
    }
}
