//! Password hashing with argon2id, off the async runtime, plus the password policy.
//!
//! Logins for unknown emails verify the password against a dummy hash made with the same
//! parameters, so "no such account" costs as much as "wrong password" and the two cannot be
//! told apart by timing.
//!
//! Each hash needs the memory cost (19 MiB by default) for its whole run, so memory is managed
//! on purpose:
//! - at most `ARGON2_MAX_CONCURRENT` hashes run at once (a semaphore); a flood of logins
//!   queues instead of allocating 19 MiB per request;
//! - each hash gets its own block memory, allocated with a capacity above glibc's largest
//!   dynamic mmap threshold (32 MiB), so it is always mapped for the hash and unmapped after:
//!   resident memory returns to its resting level between logins. (With argon2's own
//!   allocation, freeing a 19 MiB buffer raises glibc's threshold, later buffers come from
//!   per-thread arenas that keep their pages, and `make bench` saw the service grow by
//!   hundreds of MiB at a few concurrent logins: `docs/bench.md`.) Only the blocks argon2
//!   touches become resident.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use contract::FieldError;
use contract::auth::PASSWORD_CHARS;
use prometheus_client::metrics::counter::Counter;
use tokio::sync::Semaphore;

use crate::config::Argon2Args;

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

/// Blocks (1 KiB each) reserved per hash: one more than glibc's largest dynamic mmap threshold
/// (`DEFAULT_MMAP_THRESHOLD_MAX`, 32 MiB on 64-bit), so the allocation is always its own
/// mapping and is returned to the system when dropped. Untouched pages cost no memory.
const ALWAYS_MAPPED_BLOCKS: usize = 32 * 1024 + 1;

/// Runs argon2 into `out` with block memory of its own (see the module notes).
fn hash_into(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    let count = argon2.params().block_count();
    let mut blocks = Vec::with_capacity(count.max(ALWAYS_MAPPED_BLOCKS));
    blocks.resize(count, Block::default());
    argon2.hash_password_into_with_memory(password, salt, out, &mut blocks)
}

/// The PHC string of `password` hashed with `argon2` and `salt`.
fn hash_phc(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &SaltString,
) -> argon2::password_hash::Result<String> {
    let salt: Salt<'_> = salt.as_salt();
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
    let output_len = argon2
        .params()
        .output_len()
        .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = Output::init_with(output_len, |out| {
        Ok(hash_into(argon2, password, salt_bytes, out)?)
    })?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params())?,
        salt: Some(salt),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Whether `password` hashes to `stored` (a PHC string), with the parameters `stored` names.
/// The comparison of the outputs is constant-time (`Output`'s equality).
fn verify_phc(password: &[u8], stored: &str) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    Output::init_with(expected.len(), |out| {
        Ok(hash_into(&argon2, password, salt_bytes, out)?)
    })
    .is_ok_and(|computed| computed == expected)
}

/// Hashes and verifies passwords. Cheap to clone.
#[derive(Clone)]
pub struct Passwords {
    argon2: Argon2<'static>,
    dummy_hash: Arc<str>,
    verifications: Counter,
    /// One permit per hash allowed to run at once.
    slots: Arc<Semaphore>,
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
        let slots = args.slots();
        let mut this = Self {
            argon2,
            dummy_hash: Arc::from(""),
            verifications,
            slots: Arc::new(Semaphore::new(slots)),
        };
        this.dummy_hash = this
            .hash("natstack dummy password".to_owned())
            .await?
            .into();
        Ok(this)
    }

    /// Runs `work` on the blocking pool once a hashing slot is free. The slot is held by the
    /// blocking task itself, so a caller that stops waiting does not free it before the hash
    /// (and its memory) is done.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PasswordError::Join)?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        })
        .await
        .map_err(|_| PasswordError::Join)
    }

    /// The PHC string of `password`'s argon2id hash with a fresh salt.
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let argon2 = self.argon2.clone();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            hash_phc(&argon2, password.as_bytes(), &salt)
                .map_err(|e| PasswordError::Hash(e.to_string()))
        })
        .await?
    }

    /// Whether `password` matches `stored`; with no stored hash, verifies against the dummy
    /// hash (and answers false) so both paths cost the same.
    pub async fn verify(&self, password: String, stored: Option<String>) -> bool {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        self.verifications.inc();
        // A stored hash that does not parse matches nothing (and is logged by no one: it
        // would be the hash itself).
        let matched = self
            .run(move || verify_phc(password.as_bytes(), &stored))
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
    if chars < *PASSWORD_CHARS.start() {
        Some(FieldError::new(
            field,
            format!("must be at least {} characters", PASSWORD_CHARS.start()),
        ))
    } else if chars > *PASSWORD_CHARS.end() {
        Some(FieldError::too_long(field, *PASSWORD_CHARS.end()))
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
            argon2_max_concurrent: Some(2),
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
    async fn hashes_are_standard_phc_strings() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        // Made by argon2's own hasher (as stored by earlier versions): verifies here.
        let params = Params::new(64, 1, 1, None).unwrap();
        let standard = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let stored = standard
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(verify_phc(b"correct horse", &stored));
        assert!(!verify_phc(b"correct horsE", &stored));
        // Made here: argon2's own verifier accepts it, and it equals argon2's for the salt.
        let ours = hash_phc(&standard, b"correct horse", &salt).unwrap();
        assert_eq!(ours, stored);
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(standard.verify_password(b"correct horse", &parsed).is_ok());
        // Other parameters in the stored string are honoured.
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(128, 2, 1, None).unwrap(),
        );
        let stored = other.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(verify_phc(b"pw", &stored));
        for broken in [
            "",
            "$argon2id$",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$",
            "$md5$x$y",
        ] {
            assert!(!verify_phc(b"pw", broken), "{broken}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashing_memory_is_returned_after_each_login() {
        // The default cost (19 MiB per hash), two at a time, eight logins at once.
        let args = Argon2Args {
            argon2_memory_kib: 19_456,
            argon2_iterations: 1,
            argon2_parallelism: 1,
            argon2_max_concurrent: Some(2),
        };
        let p = Passwords::new(args, Counter::default()).await.unwrap();
        let stored = p.hash("correct horse".into()).await.unwrap();
        let before = resident_kib();
        let peak_before = status_kib("VmHWM:");
        let logins: Vec<_> = (0..8)
            .map(|_| {
                let p = p.clone();
                let stored = stored.clone();
                tokio::spawn(async move { p.verify("correct horse".into(), Some(stored)).await })
            })
            .collect();
        for login in logins {
            assert!(login.await.unwrap());
        }
        let after = resident_kib();
        // argon2's own allocation kept ~19 MiB per blocking thread resident here.
        assert!(
            after < before + 8 * 1024,
            "resident memory grew from {before} KiB to {after} KiB"
        );
        // Two hashes at a time, not eight: the peak rose by at most two hashes' memory.
        let peak_after = status_kib("VmHWM:");
        assert!(
            peak_after < peak_before + 2 * 19_456 + 4 * 1024,
            "peak resident memory rose from {peak_before} KiB to {peak_after} KiB"
        );
    }

    fn resident_kib() -> u64 {
        status_kib("VmRSS:")
    }

    fn status_kib(field: &str) -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
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
