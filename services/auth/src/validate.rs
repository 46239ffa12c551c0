//! Input rules for accounts: email normalisation and shape, usernames, and (via
//! [`password::check_policy`]) passwords. Every failing field
//! is reported at once, as a 422 with `details.fields`.

use contract::FieldError;
use contract::auth::RegisterRequest;

use crate::password;

/// Longest accepted email (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Username length bounds, in characters.
pub const USERNAME_CHARS: std::ops::RangeInclusive<usize> = 3..=32;

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
    if email.len() > MAX_EMAIL_LEN {
        return Some(FieldError::new(
            field,
            format!("must be at most {MAX_EMAIL_LEN} characters"),
        ));
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
}
