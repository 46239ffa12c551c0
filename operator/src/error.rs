//! Errors of the reconciler and the builders.

use crate::status::Fault;

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
    /// Retained credential Secrets are gone while the volumes whose data they unlock remain;
    /// the message names them and how to recover.
    #[error("{0}")]
    CredentialsLost(String),
    /// The resource lacks a field every stored object has.
    #[error("object has no {0}")]
    MissingObjectKey(&'static str),
    /// A call to the Kubernetes API failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// Generating a key failed.
    #[error("key generation: {0}")]
    KeyGeneration(String),
    /// The stack hands a database to an engine's operator whose API the cluster does not
    /// serve; the message says how to install it. Nothing is applied until it is installed.
    #[error("{message}")]
    EngineMissing {
        /// The missing operator.
        engine: crate::manifests::Engine,
        /// What is missing and how to install it.
        message: String,
    },
    /// A file embedded in the operator (an alert rule file) does not parse: a defect of the
    /// build, caught by its unit tests; the object it makes cannot be rendered.
    #[error("embedded {file} does not parse: {message}")]
    EmbeddedFile {
        /// The file, relative to the repository.
        file: &'static str,
        /// The parser's message.
        message: String,
    },
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
                | Self::CredentialsLost(_)
                | Self::EmbeddedFile { .. }
        )
    }

    /// Whether the error waits for a Secret: a referenced one that is missing or lacks a key,
    /// or a lost credential Secret someone must restore. Only a change to that Secret, which
    /// the operator does not watch, can fix it.
    #[must_use]
    pub fn awaits_secret(&self) -> bool {
        matches!(
            self,
            Self::MissingSecretKey { .. } | Self::MissingSecret(_) | Self::CredentialsLost(_)
        )
    }

    /// The cause, as the stack's `Degraded` reason.
    #[must_use]
    pub const fn fault(&self) -> Fault {
        match self {
            Self::Invalid(_) => Fault::InvalidSpec,
            Self::InvalidObject(_) => Fault::InvalidObject,
            Self::MissingSecretKey { .. } | Self::MissingSecret(_) => Fault::MissingSecret,
            Self::CredentialsLost(_) => Fault::CredentialsLost,
            Self::MissingObjectKey(_) => Fault::MissingObjectKey,
            Self::Kube(_) => Fault::ApiError,
            Self::KeyGeneration(_) => Fault::KeyGeneration,
            Self::EmbeddedFile { .. } => Fault::ApplyFailed,
            Self::EngineMissing {
                engine: crate::manifests::Engine::CloudNativePg,
                ..
            } => Fault::CloudNativePgMissing,
            Self::EngineMissing {
                engine: crate::manifests::Engine::MongoDbOperator,
                ..
            } => Fault::MongoDbOperatorMissing,
        }
    }

    /// Short label for metrics and event reasons.
    #[must_use]
    pub const fn reason(&self) -> &'static str {
        self.fault().as_str()
    }
}
