//! Endpoint metadata: how each Services API endpoint declares its HTTP mapping.
//!
//! The Services API lets an endpoint carry a string→string map that discovery (`$SRV.INFO`)
//! returns. The gateway builds its whole routing table from these keys; no route is written in
//! gateway code. The spec standardises no keys, so these are natstack's own:
//!
//! | key | value | required |
//! |---|---|---|
//! | `http.method` | `GET`, `POST`, `PUT`, `PATCH`, `DELETE` | yes |
//! | `http.path` | `/customers/{id}`: literal segments and `{name}` parameters | yes |
//! | `auth` | `public`, `user`, `admin` | yes |
//! | `http.status` | the success status, e.g. `201` on create, `204` on delete | no, 200 |
//! | `summary` | one line for the OpenAPI document | no |
//! | `schema.hash` | content hash of the service's schema document ([`crate::schema`]) | no |
//! | `natstack.kind` | `schema` on the endpoint that serves that document (no `http.*` keys) | no |
//!
//! Schemas themselves are not in the metadata: every `$SRV.INFO` reply carries every
//! endpoint's metadata, so it stays small. `schema.hash` names the document, and a reader
//! fetches it once per hash from the endpoint marked `natstack.kind=schema`
//! (`<service>.schema`). An endpoint without `schema.hash` is still routed; its bodies are
//! then undocumented.
//!
//! `http.status` is an addition to the original set of keys: the success status is a property
//! of the endpoint, and declaring it lets the gateway answer 201/204 and document it in OpenAPI
//! without knowing any service.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Metadata key: the HTTP method.
pub const HTTP_METHOD: &str = "http.method";
/// Metadata key: the HTTP path template.
pub const HTTP_PATH: &str = "http.path";
/// Metadata key: the success status.
pub const HTTP_STATUS: &str = "http.status";
/// Metadata key: the authentication level.
pub const AUTH: &str = "auth";
/// Metadata key: a one-line summary.
pub const SUMMARY: &str = "summary";
/// Metadata key: the content hash of the service's schema document.
pub const SCHEMA_HASH: &str = "schema.hash";
/// Metadata key: what a non-HTTP endpoint is for.
pub const KIND: &str = "natstack.kind";
/// [`KIND`] value of the endpoint that serves the service's schema document.
pub const KIND_SCHEMA: &str = "schema";

/// An HTTP method an endpoint can be mapped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl HttpMethod {
    /// The method's name as in HTTP.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    /// Parses an upper-case method name.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Get, Self::Post, Self::Put, Self::Patch, Self::Delete]
            .into_iter()
            .find(|method| method.as_str() == value)
    }
}

impl std::fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may call an endpoint through the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthLevel {
    /// Anyone, without a token.
    Public,
    /// Any caller with a valid token.
    User,
    /// A caller with a valid token and the `admin` role.
    Admin,
}

impl AuthLevel {
    /// The level's metadata value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::User => "user",
            Self::Admin => "admin",
        }
    }

    /// Parses a metadata value.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Public, Self::User, Self::Admin]
            .into_iter()
            .find(|level| level.as_str() == value)
    }
}

impl std::fmt::Display for AuthLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an endpoint's metadata cannot be used for routing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    /// A required key is absent.
    #[error("metadata key `{0}` is missing")]
    Missing(&'static str),
    /// A key has a value that is not allowed.
    #[error("metadata key `{key}` has invalid value `{value}`")]
    Invalid {
        /// The key.
        key: &'static str,
        /// The value found.
        value: String,
    },
}

/// The HTTP mapping of one endpoint, as declared in its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointMeta {
    /// The HTTP method.
    pub method: HttpMethod,
    /// The path template, e.g. `/customers/{id}`.
    pub path: String,
    /// Who may call it.
    pub auth: AuthLevel,
    /// The success status (200 unless declared).
    pub success_status: u16,
    /// A one-line summary.
    pub summary: Option<String>,
}

impl EndpointMeta {
    /// The metadata map to register the endpoint with.
    pub fn to_metadata(&self) -> HashMap<String, String> {
        let mut map = HashMap::from([
            (HTTP_METHOD.to_owned(), self.method.as_str().to_owned()),
            (HTTP_PATH.to_owned(), self.path.clone()),
            (AUTH.to_owned(), self.auth.as_str().to_owned()),
            (HTTP_STATUS.to_owned(), self.success_status.to_string()),
        ]);
        if let Some(summary) = &self.summary {
            map.insert(SUMMARY.to_owned(), summary.clone());
        }
        map
    }

    /// Reads the mapping from an endpoint's metadata, validating every value.
    pub fn from_metadata(map: &HashMap<String, String>) -> Result<Self, MetaError> {
        let get = |key: &'static str| map.get(key).ok_or(MetaError::Missing(key));
        let invalid = |key: &'static str, value: &str| MetaError::Invalid {
            key,
            value: value.to_owned(),
        };
        let method = get(HTTP_METHOD)?;
        let method = HttpMethod::parse(method).ok_or_else(|| invalid(HTTP_METHOD, method))?;
        let path = get(HTTP_PATH)?;
        if !is_valid_path(path) {
            return Err(invalid(HTTP_PATH, path));
        }
        let auth = get(AUTH)?;
        let auth = AuthLevel::parse(auth).ok_or_else(|| invalid(AUTH, auth))?;
        let success_status = match map.get(HTTP_STATUS) {
            None => 200,
            Some(s) => s
                .parse()
                .ok()
                .filter(|s| (200..300).contains(s))
                .ok_or_else(|| invalid(HTTP_STATUS, s))?,
        };
        Ok(Self {
            method,
            path: path.clone(),
            auth,
            success_status,
            summary: map.get(SUMMARY).cloned(),
        })
    }

    /// The names of the path's `{parameters}`, in order.
    pub fn path_params(&self) -> Vec<&str> {
        segments(&self.path)
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect()
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.strip_prefix('/').unwrap_or(path).split('/')
}

/// Whether `path` is an absolute template of non-empty literal or `{param}` segments, with no
/// parameter named twice.
pub fn is_valid_path(path: &str) -> bool {
    if path == "/" {
        return true;
    }
    if !path.starts_with('/') || path.ends_with('/') {
        return false;
    }
    let mut seen = Vec::new();
    segments(path).all(
        |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let ok = !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !seen.contains(&name);
                seen.push(name);
                ok
            }
            None => {
                !seg.is_empty()
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c))
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `DELETE /customers/{id}`, admin only, 204 (the golden test spells it out).
    fn meta() -> EndpointMeta {
        use crate::Operation as _;
        crate::customers::DeleteCustomer::meta()
    }

    #[test]
    fn metadata_round_trips() {
        let map = meta().to_metadata();
        assert_eq!(map["http.method"], "DELETE");
        assert_eq!(map["auth"], "admin");
        assert_eq!(EndpointMeta::from_metadata(&map).unwrap(), meta());
        assert_eq!(meta().path_params(), ["id"]);
    }

    #[test]
    fn status_defaults_to_200() {
        let mut map = meta().to_metadata();
        map.remove(HTTP_STATUS);
        assert_eq!(
            EndpointMeta::from_metadata(&map).unwrap().success_status,
            200
        );
    }

    #[test]
    fn bad_metadata_is_reported_by_key() {
        let mut map = meta().to_metadata();
        map.insert(AUTH.into(), "root".into());
        assert_eq!(
            EndpointMeta::from_metadata(&map),
            Err(MetaError::Invalid {
                key: AUTH,
                value: "root".into()
            })
        );
        map.remove(HTTP_PATH);
        assert_eq!(
            EndpointMeta::from_metadata(&map),
            Err(MetaError::Missing(HTTP_PATH))
        );
        let mut map = meta().to_metadata();
        map.insert(HTTP_STATUS.into(), "500".into());
        assert!(EndpointMeta::from_metadata(&map).is_err());
        map.insert(HTTP_STATUS.into(), "2x".into());
        assert!(EndpointMeta::from_metadata(&map).is_err());
    }

    #[test]
    fn path_templates_are_checked() {
        for ok in [
            "/",
            "/customers",
            "/customers/{id}",
            "/.well-known/jwks.json",
            "/a/{x}/b/{y}",
        ] {
            assert!(is_valid_path(ok), "{ok}");
        }
        for bad in [
            "",
            "customers",
            "/customers/",
            "//x",
            "/{}",
            "/{a}/{a}",
            "/a b",
            "/{id",
        ] {
            assert!(!is_valid_path(bad), "{bad}");
        }
    }
}
