//! Password hashing with argon2id, off the async runtime, plus the password policy.
//!
//! Logins for unknown emails verify the password against a dummy hash made with the same
//! parameters, so "no such account" costs as much as "wrong password" and the two cannot be
//! told apart by timing.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use contract::FieldError;
use prometheus_client::metrics::counter::Counter;

use crate::config::Argon2Args;

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password, in characters (bounds the hashing work one request can cause).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Why hashing failed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The configured parameters are out of argon2's range.
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    /// Hashing itself failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The blocking task was cancelled.
    #[error("password hashing task failed")]
    Join,
}

/// Hashes and verifies passwords. Cheap to clone.
#[derive(Clone)]
pub struct Passwords {
    argon2: Argon2<'static>,
    dummy_hash: Arc<str>,
    verifications: Counter,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("params", self.argon2.params())
            .finish_non_exhaustive()
    }
}

impl Passwords {
    /// A hasher with the configured cost; computes the dummy hash once. Every verification
    /// (real or dummy) increments `verifications`.
    pub async fn new(args: Argon2Args, verifications: Counter) -> Result<Self, PasswordError> {
        let params = Params::new(
            args.argon2_memory_kib,
            args.argon2_iterations,
            args.argon2_parallelism,
            None,
        )
        .map_err(|e| PasswordError::Params(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut this = Self {
            argon2,
            dummy_hash: Arc::from(""),
            verifications,
        };
        this.dummy_hash = this
            .hash("natstack dummy password".to_owned())
            .await?
            .into();
        Ok(this)
    }

    /// The PHC string of `password`'s argon2id hash with a fresh salt.
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let argon2 = self.argon2.clone();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| PasswordError::Hash(e.to_string()))
        })
        .await
        .map_err(|_| PasswordError::Join)?
    }

    /// Whether `password` matches `stored`; with no stored hash, verifies against the dummy
    /// hash (and answers false) so both paths cost the same.
    pub async fn verify(&self, password: String, stored: Option<String>) -> bool {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let argon2 = self.argon2.clone();
        self.verifications.inc();
        let matched = tokio::task::spawn_blocking(move || {
            // A stored hash that does not parse matches nothing (and is logged by no one: it
            // would be the hash itself).
            PasswordHash::new(&stored)
                .map(|hash| argon2.verify_password(password.as_bytes(), &hash).is_ok())
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        known && matched
    }

    /// How many verifications ran (real or dummy); tests use it to see that an unknown email
    /// costs a verification too.
    pub fn verifications(&self) -> u64 {
        self.verifications.get()
    }
}

/// The password policy: length bounds and not all whitespace.
pub fn check_policy(password: &str, field: &str) -> Option<FieldError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Some(FieldError::new(
            field,
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ))
    } else if chars > MAX_PASSWORD_CHARS {
        Some(FieldError::new(
            field,
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ))
    } else if password.trim().is_empty() {
        Some(FieldError::new(field, "must not be only whitespace"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Argon2Args {
        Argon2Args {
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            argon2_parallelism: 1,
        }
    }

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_cost_a_verification() {
        let p = Passwords::new(cheap(), Counter::default()).await.unwrap();
        let hash = p.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(p.verify("correct horse".into(), Some(hash.clone())).await);
        assert!(!p.verify("wrong horse".into(), Some(hash)).await);
        let before = p.verifications();
        assert!(!p.verify("natstack dummy password".into(), None).await);
        assert_eq!(p.verifications(), before + 1);
        assert!(!p.verify("x".into(), Some("not a hash".into())).await);
    }

    #[tokio::test]
    async fn bad_parameters_are_refused() {
        let args = Argon2Args {
            argon2_memory_kib: 1,
            ..cheap()
        };
        assert!(matches!(
            Passwords::new(args, Counter::default()).await,
            Err(PasswordError::Params(_))
        ));
    }

    #[test]
    fn policy() {
        assert!(check_policy("12345678", "password").is_none());
        assert!(check_policy("1234567", "password").is_some());
        assert!(check_policy(&"x".repeat(129), "password").is_some());
        assert!(check_policy("         ", "password").is_some());
        // Characters, not bytes.
        assert!(check_policy("ééééééé", "password").is_some());
        assert!(check_policy("éééééééé", "password").is_none());
    }
}
