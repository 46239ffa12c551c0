//! Who owns which HTTP paths: the route prefixes of every service, declared once per stack.
//!
//! The gateway routes a claim only when the claiming service owns its path, so one service
//! cannot take over another's routes (a compromised `products` cannot answer `POST
//! /auth/login`). The operator renders the owners of a stack into the gateway's
//! [`ROUTE_OWNERS`](crate::deploy::env::ROUTE_OWNERS), `make run` renders its own, and the
//! gateway parses them here, so all three agree on the syntax and on the built-in defaults.
//!
//! Syntax: `;`-separated `service=prefix,prefix` entries, e.g.
//! `auth=/auth,/.well-known/jwks.json;customers=/customers`. A prefix is a literal path of one
//! or more segments; it owns itself and every path below it (`/auth` owns `/auth/login`, not
//! `/authority`). Prefixes of different services may not overlap (neither equal nor one below
//! the other), so every path has at most one owner.

use std::collections::BTreeMap;
use std::fmt;

use crate::deploy;

/// Most prefixes one service may own.
pub const MAX_PREFIXES: usize = 16;
/// Longest prefix, in bytes.
pub const MAX_PREFIX_LEN: usize = 100;

/// The prefixes a service owns when its stack declares none: the built-in services' paths,
/// `/<name>` for any other.
#[must_use]
pub fn default_prefixes(service: &str) -> Vec<String> {
    match service {
        deploy::AUTH => vec!["/auth".into(), "/.well-known/jwks.json".into()],
        deploy::PRODUCTS => vec![
            "/products".into(),
            "/categories".into(),
            "/suppliers".into(),
        ],
        name => vec![format!("/{name}")],
    }
}

/// Why a route-owners declaration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnersError {
    /// An entry is not `service=prefix[,prefix…]`.
    #[error("`{0}` is not `service=/prefix[,/prefix…]`")]
    Entry(String),
    /// A service name is not a lowercase name (letters, digits, `-`).
    #[error(
        "`{0}` is not a service name (lowercase letters, digits and `-`, starting with a letter)"
    )]
    Name(String),
    /// A service is declared twice.
    #[error("service `{0}` is declared twice")]
    Duplicate(String),
    /// A prefix is not a literal absolute path.
    #[error(
        "prefix `{prefix}` of `{service}` is not a path such as `/orders` (segments of letters, \
         digits, `.`, `_`, `~`, `-`; at most {MAX_PREFIX_LEN} bytes; not `/` alone)"
    )]
    Prefix {
        /// The service.
        service: String,
        /// The prefix.
        prefix: String,
    },
    /// A service owns no prefix, or too many.
    #[error("`{0}` must own between 1 and {MAX_PREFIXES} prefixes")]
    Count(String),
    /// Two services' prefixes overlap.
    #[error("prefix `{0}` of `{1}` overlaps prefix `{2}` of `{3}`: a path has one owner")]
    Overlap(String, String, String, String),
}

/// The route prefixes of every service of a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOwners {
    /// Service name → its prefixes (each split into segments), sorted and deduplicated.
    owners: BTreeMap<String, Vec<String>>,
}

impl RouteOwners {
    /// Owners from `(service, prefixes)` pairs, checked: valid names and prefixes, no service
    /// twice, no overlap between services.
    pub fn new<N, P>(entries: impl IntoIterator<Item = (N, Vec<P>)>) -> Result<Self, OwnersError>
    where
        N: Into<String>,
        P: Into<String>,
    {
        let mut owners = BTreeMap::new();
        for (name, prefixes) in entries {
            let name: String = name.into();
            if !is_name(&name) {
                return Err(OwnersError::Name(name));
            }
            let mut prefixes: Vec<String> = prefixes.into_iter().map(Into::into).collect();
            if prefixes.is_empty() || prefixes.len() > MAX_PREFIXES {
                return Err(OwnersError::Count(name));
            }
            if let Some(bad) = prefixes.iter().find(|p| !is_prefix(p)) {
                return Err(OwnersError::Prefix {
                    service: name,
                    prefix: bad.clone(),
                });
            }
            prefixes.sort();
            prefixes.dedup();
            if owners.contains_key(&name) {
                return Err(OwnersError::Duplicate(name));
            }
            owners.insert(name, prefixes);
        }
        let owners = Self { owners };
        owners.check_overlaps()?;
        Ok(owners)
    }

    /// Every service of `names` with its [`default_prefixes`].
    pub fn defaults<S: AsRef<str>>(names: &[S]) -> Result<Self, OwnersError> {
        Self::new(
            names
                .iter()
                .map(|n| (n.as_ref().to_owned(), default_prefixes(n.as_ref()))),
        )
    }

    /// The built-in services (auth, customers, products) with their default prefixes: what
    /// the gateway assumes when [`ROUTE_OWNERS`](crate::deploy::env::ROUTE_OWNERS) is unset.
    #[must_use]
    pub fn builtin() -> Self {
        Self::defaults(&[deploy::AUTH, deploy::CUSTOMERS, deploy::PRODUCTS])
            .expect("the built-in prefixes are valid and disjoint")
    }

    /// Parses the `ROUTE_OWNERS` syntax (see the module doc).
    pub fn parse(text: &str) -> Result<Self, OwnersError> {
        let mut entries = Vec::new();
        for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, prefixes) = entry
                .split_once('=')
                .ok_or_else(|| OwnersError::Entry(entry.to_owned()))?;
            let prefixes: Vec<String> = prefixes
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
            entries.push((name.trim().to_owned(), prefixes));
        }
        Self::new(entries)
    }

    /// The services, in name order.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.owners.keys().map(String::as_str)
    }

    /// The prefixes `service` owns, if it is declared.
    #[must_use]
    pub fn prefixes(&self, service: &str) -> Option<&[String]> {
        self.owners.get(service).map(Vec::as_slice)
    }

    /// The service owning `path` (a request path or a path template such as
    /// `/customers/{id}`): the one with a prefix equal to the path's first segments. A
    /// parameter segment never equals a prefix's literal one.
    #[must_use]
    pub fn owner_of(&self, path: &str) -> Option<&str> {
        self.owners
            .iter()
            .find(|(_, prefixes)| prefixes.iter().any(|p| is_under(path, p)))
            .map(|(name, _)| name.as_str())
    }

    fn check_overlaps(&self) -> Result<(), OwnersError> {
        let all: Vec<(&str, &str)> = self
            .owners
            .iter()
            .flat_map(|(n, ps)| ps.iter().map(move |p| (n.as_str(), p.as_str())))
            .collect();
        for (i, (a_name, a)) in all.iter().enumerate() {
            for (b_name, b) in &all[i + 1..] {
                if a_name != b_name && (is_under(a, b) || is_under(b, a)) {
                    return Err(OwnersError::Overlap(
                        (*a).to_owned(),
                        (*a_name).to_owned(),
                        (*b).to_owned(),
                        (*b_name).to_owned(),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for RouteOwners {
    /// The `ROUTE_OWNERS` text, which [`RouteOwners::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, prefixes)) in self.owners.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{name}={}", prefixes.join(","))?;
        }
        Ok(())
    }
}

/// Whether `path` is `prefix` or below it, segment by segment.
fn is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// A service name as the CRD allows it.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.len() <= 63
}

/// A literal absolute path of one or more non-empty segments of unreserved characters.
fn is_prefix(prefix: &str) -> bool {
    prefix.len() <= MAX_PREFIX_LEN
        && prefix.strip_prefix('/').is_some_and(|rest| {
            rest.split('/').all(|segment| {
                !segment.is_empty()
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_owners_round_trip_through_their_text() {
        let owners = RouteOwners::builtin();
        let text = owners.to_string();
        assert_eq!(
            text,
            "auth=/.well-known/jwks.json,/auth;customers=/customers;products=/categories,/products,/suppliers"
        );
        assert_eq!(text, deploy::DEFAULT_ROUTE_OWNERS);
        assert_eq!(RouteOwners::parse(&text).unwrap(), owners);
    }

    #[test]
    fn paths_belong_to_the_service_whose_prefix_they_start_with() {
        let owners = RouteOwners::builtin();
        for (path, owner) in [
            ("/auth/login", Some("auth")),
            ("/auth", Some("auth")),
            ("/.well-known/jwks.json", Some("auth")),
            ("/customers/{id}", Some("customers")),
            ("/categories", Some("products")),
            ("/authority", None),
            ("/{service}/login", None),
            ("/", None),
            ("/.well-known/other", None),
        ] {
            assert_eq!(owners.owner_of(path), owner, "{path}");
        }
    }

    #[test]
    fn bad_declarations_are_refused_with_the_reason() {
        for (text, want) in [
            ("auth", "is not `service=/prefix"),
            ("Auth=/auth", "is not a service name"),
            ("auth=/auth;auth=/login", "declared twice"),
            ("auth=", "between 1 and"),
            ("auth=/", "is not a path"),
            ("auth=auth", "is not a path"),
            ("auth=/a//b", "is not a path"),
            ("auth=/a/{id}", "is not a path"),
            ("auth=/a;orders=/a/b", "overlaps"),
            ("auth=/a;orders=/a", "overlaps"),
        ] {
            let error = RouteOwners::parse(text).unwrap_err().to_string();
            assert!(error.contains(want), "{text}: {error}");
        }
        // One service may list nested prefixes of its own; they are kept as declared.
        assert!(RouteOwners::parse("auth=/a,/a/b; orders = /orders ").is_ok());
    }

    #[test]
    fn other_services_default_to_their_own_name() {
        assert_eq!(default_prefixes("orders"), ["/orders"]);
        let owners = RouteOwners::defaults(&["auth", "orders"]).unwrap();
        assert_eq!(owners.owner_of("/orders/7"), Some("orders"));
        assert_eq!(owners.services().collect::<Vec<_>>(), ["auth", "orders"]);
    }
}
