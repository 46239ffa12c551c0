//! Signing keys and the JWKS that publishes their public halves.
//!
//! - The current key signs every new access token. It comes from `JWT_PRIVATE_KEY_FILE`
//!   (PKCS#8 PEM, Ed25519); without one a fresh key is generated and a warning logged.
//! - `JWT_PREVIOUS_KEY_FILES` lists earlier keys (private PKCS#8 or public SPKI PEM) that are
//!   only published, so tokens signed before a rotation keep verifying until they expire.
//!
//! Rotation: generate a new key, mount it as the current key and the old one as a previous
//! key, roll the pods; once the longest access-token lifetime has passed, drop the old one.
//! Key ids are RFC 7638 thumbprints, so every replica derives the same `kid` from the same key.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contract::auth::{Jwk, Jwks};
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use jsonwebtoken::EncodingKey;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

/// Why the keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A key file holds no Ed25519 key in a supported PEM form.
    #[error("key file {path} holds no Ed25519 PKCS#8 private key or SPKI public key")]
    Parse {
        /// The file.
        path: String,
    },
    /// The key could not be encoded for signing.
    #[error("cannot encode the signing key")]
    Encode(#[source] ed25519_dalek::pkcs8::Error),
}

/// The signing key and every published public key.
#[derive(Clone)]
pub struct Keys {
    signing: EncodingKey,
    kid: String,
    jwks: Jwks,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("kid", &self.kid)
            .field("published", &self.jwks.keys.len())
            .finish_non_exhaustive()
    }
}

/// The JWK of an Ed25519 public key, with its RFC 7638 thumbprint as `kid`.
pub fn jwk(key: &VerifyingKey) -> Jwk {
    let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
    // RFC 7638: the required members in lexicographic order, no whitespace.
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    Jwk::ed25519(x, kid)
}

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn public_key(pem: &str, path: &Path) -> Result<VerifyingKey, KeyError> {
    SigningKey::from_pkcs8_pem(pem)
        .map(|k| k.verifying_key())
        .or_else(|_| VerifyingKey::from_public_key_pem(pem))
        .map_err(|_| KeyError::Parse {
            path: path.display().to_string(),
        })
}

impl Keys {
    /// Keys from a signing key and the public keys to publish besides it.
    pub fn new(signing: &SigningKey, previous: &[VerifyingKey]) -> Result<Self, KeyError> {
        let der = signing.to_pkcs8_der().map_err(KeyError::Encode)?;
        let current = jwk(&signing.verifying_key());
        let mut jwks = Jwks {
            keys: vec![current.clone()],
        };
        for key in previous {
            let jwk = jwk(key);
            if jwks.find(&jwk.kid).is_none() {
                jwks.keys.push(jwk);
            }
        }
        Ok(Self {
            signing: EncodingKey::from_ed_der(der.as_bytes()),
            kid: current.kid,
            jwks,
        })
    }

    /// Loads the signing key from `private_key_file` (or generates one, with a warning) and the
    /// previous public keys from `previous_files`.
    pub fn load(
        private_key_file: Option<&Path>,
        previous_files: &[impl AsRef<Path>],
    ) -> Result<Self, KeyError> {
        let signing = match private_key_file {
            Some(path) => {
                SigningKey::from_pkcs8_pem(&read(path)?).map_err(|_| KeyError::Parse {
                    path: path.display().to_string(),
                })?
            }
            None => {
                warn!(
                    "JWT_PRIVATE_KEY_FILE is not set: signing with an ephemeral key; tokens \
                     will not survive a restart and replicas will not share keys (dev only)"
                );
                SigningKey::generate(&mut rand::rngs::OsRng)
            }
        };
        let previous = previous_files
            .iter()
            .map(|p| public_key(&read(p.as_ref())?, p.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let keys = Self::new(&signing, &previous)?;
        info!(kid = %keys.kid, published = keys.jwks.keys.len(), "signing keys loaded");
        Ok(keys)
    }

    /// The key that signs new tokens.
    pub fn signing(&self) -> &EncodingKey {
        &self.signing
    }

    /// The current key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Every published public key, the current one first.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::pkcs8::EncodePublicKey;
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;

    use super::*;

    #[test]
    fn loads_pem_keys_and_publishes_previous_ones() {
        let dir = tempfile::tempdir().unwrap();
        let current = SigningKey::generate(&mut rand::rngs::OsRng);
        let old_private = SigningKey::generate(&mut rand::rngs::OsRng);
        let old_public = SigningKey::generate(&mut rand::rngs::OsRng);
        let write = |name: &str, pem: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };
        let cur = write("cur.pem", &current.to_pkcs8_pem(LineEnding::LF).unwrap());
        let a = write("a.pem", &old_private.to_pkcs8_pem(LineEnding::LF).unwrap());
        let b = write(
            "b.pem",
            &old_public
                .verifying_key()
                .to_public_key_pem(LineEnding::LF)
                .unwrap(),
        );
        let keys = Keys::load(Some(&cur), &[a, b]).unwrap();
        assert_eq!(keys.jwks().keys.len(), 3);
        assert_eq!(keys.jwks().keys[0], jwk(&current.verifying_key()));
        assert_eq!(keys.kid(), jwk(&current.verifying_key()).kid);
        assert!(
            keys.jwks()
                .find(&jwk(&old_public.verifying_key()).kid)
                .is_some()
        );
        // Same key, same kid: replicas agree.
        assert_eq!(
            Keys::load(Some(&cur), &[] as &[&Path]).unwrap().kid(),
            keys.kid()
        );

        let junk = write("junk.pem", "not a key");
        assert!(matches!(
            Keys::load(Some(&junk), &[] as &[&Path]),
            Err(KeyError::Parse { .. })
        ));
        assert!(matches!(
            Keys::load(Some(&dir.path().join("missing")), &[] as &[&Path]),
            Err(KeyError::Read { .. })
        ));
    }

    #[test]
    fn thumbprint_matches_rfc_8037_example() {
        // RFC 8037 appendix A.3: the thumbprint of the example Ed25519 key.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let key = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
        assert_eq!(jwk(&key).kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }
}
