//! Errors of the reconciler and the builders.

/// Everything that can fail while reconciling a stack.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec breaks an invariant; fixed only by editing the resource.
    #[error("invalid spec: {0}")]
    Invalid(String),
    /// The resource could not be deserialized.
    #[error("invalid object: {0}")]
    InvalidObject(String),
    /// A Secret the stack depends on lacks a key.
    #[error("secret {secret} has no key {key}")]
    MissingSecretKey {
        /// Secret name.
        secret: String,
        /// Missing key.
        key: String,
    },
    /// A user-referenced Secret does not exist.
    #[error("secret {0} not found")]
    MissingSecret(String),
    /// The resource lacks a field every stored object has.
    #[error("object has no {0}")]
    MissingObjectKey(&'static str),
    /// A call to the Kubernetes API failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// Generating a key failed.
    #[error("key generation: {0}")]
    KeyGeneration(String),
}

impl Error {
    /// Whether retrying cannot help until the resource or a Secret it references changes.
    #[must_use]
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::Invalid(_)
                | Self::InvalidObject(_)
                | Self::MissingSecretKey { .. }
                | Self::MissingSecret(_)
        )
    }

    /// Whether the error is a referenced Secret that is missing or lacks a key: only a change
    /// to that Secret, which the operator does not watch, can fix it.
    #[must_use]
    pub fn is_missing_secret(&self) -> bool {
        matches!(self, Self::MissingSecretKey { .. } | Self::MissingSecret(_))
    }

    /// Short label for metrics and event reasons.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "InvalidSpec",
            Self::InvalidObject(_) => "InvalidObject",
            Self::MissingSecretKey { .. } | Self::MissingSecret(_) => "MissingSecret",
            Self::MissingObjectKey(_) => "MissingObjectKey",
            Self::Kube(_) => "ApiError",
            Self::KeyGeneration(_) => "KeyGeneration",
        }
    }
}
