//! The verified caller the gateway forwards with a request.
//!
//! The gateway verifies the bearer token and sends the identity in the
//! [`USER_ID`](crate::headers::USER_ID) and [`ROLES`](crate::headers::ROLES) headers. Services
//! trust those headers only: identity is never read from the body.

use serde::{Deserialize, Serialize};

/// The role every registered user has.
pub const ROLE_USER: &str = "user";
/// The role that may delete and administer.
pub const ROLE_ADMIN: &str = "admin";

/// A verified caller: who made the request and which roles they hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The user id (the token's `sub`).
    pub user_id: String,
    /// The caller's roles.
    pub roles: Vec<String>,
}

impl Caller {
    /// Builds a caller from the header values; `None` when the user id is missing or empty.
    pub fn from_headers(user_id: Option<&str>, roles: Option<&str>) -> Option<Self> {
        let user_id = user_id.map(str::trim).filter(|id| !id.is_empty())?;
        Some(Self {
            user_id: user_id.to_owned(),
            roles: roles.map(parse_roles).unwrap_or_default(),
        })
    }

    /// Whether the caller holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The roles as the comma-separated header value.
    pub fn roles_header(&self) -> String {
        self.roles.join(",")
    }
}

/// Splits a comma-separated roles header, dropping blanks.
pub fn parse_roles(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_roles_and_rejects_blank_user() {
        let caller = Caller::from_headers(Some("u1"), Some(" user, admin ,,")).unwrap();
        assert_eq!(caller.roles, ["user", "admin"]);
        assert!(caller.has_role("admin"));
        assert!(!caller.has_role("root"));
        assert_eq!(caller.roles_header(), "user,admin");
        assert!(Caller::from_headers(Some("  "), Some("admin")).is_none());
        assert!(Caller::from_headers(None, Some("admin")).is_none());
    }
}
