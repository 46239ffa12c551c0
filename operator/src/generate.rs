//! Fills created-once Secrets: random passwords and a fresh Ed25519 signing key.
//!
//! Kept apart from the builders because it is the only place that reads a random source.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::{CryptoRng, Rng, RngCore};

use crate::error::Error;
use crate::manifests::secrets::{GeneratedSecret, Generator};

/// Length of generated passwords (alphanumeric, about 190 bits).
pub const PASSWORD_LEN: usize = 32;

/// The values of a created-once Secret, drawn from `rng`.
///
/// # Errors
/// [`Error::KeyGeneration`] when the signing key cannot be encoded.
pub fn values<R: RngCore + CryptoRng>(
    generated: &GeneratedSecret,
    rng: &mut R,
) -> Result<BTreeMap<String, String>, Error> {
    generated
        .keys
        .iter()
        .map(|(key, generator)| {
            let value = match generator {
                Generator::Literal(v) => v.clone(),
                Generator::Password => (0..PASSWORD_LEN)
                    .map(|_| char::from(rng.sample(Alphanumeric)))
                    .collect(),
                Generator::Ed25519Pem => SigningKey::generate(rng)
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| Error::KeyGeneration(e.to_string()))?
                    .to_string(),
            };
            Ok((key.clone(), value))
        })
        .collect()
}

/// A created-once Secret with fresh values from the operating system's random source.
///
/// # Errors
/// [`Error::KeyGeneration`] when the signing key cannot be encoded.
pub fn secret(generated: &GeneratedSecret) -> Result<(Secret, BTreeMap<String, String>), Error> {
    let data = values(generated, &mut OsRng)?;
    let secret = Secret {
        metadata: generated.metadata.clone(),
        data: Some(
            data.iter()
                .map(|(k, v)| (k.clone(), ByteString(v.clone().into_bytes())))
                .collect(),
        ),
        type_: Some(generated.type_.into()),
        ..Secret::default()
    };
    Ok((secret, data))
}

/// The data of a stored Secret as strings (non-UTF-8 values are skipped).
#[must_use]
pub fn decode(secret: &Secret) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = secret
        .data
        .iter()
        .flatten()
        .filter_map(|(k, v)| String::from_utf8(v.0.clone()).ok().map(|v| (k.clone(), v)))
        .collect();
    if let Some(string_data) = &secret.string_data {
        out.extend(string_data.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    out
}
