//! Why a stack is `Degraded`: one typed value per cause, the reason of the condition, of the
//! Warning Event and of the failure metric.

/// A cause of `Degraded=True`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The spec breaks an invariant the CRD's schema cannot express.
    InvalidSpec,
    /// The stored object does not deserialize.
    InvalidObject,
    /// A Secret the stack references is missing or lacks a key.
    MissingSecret,
    /// A retained credential Secret is gone while the data it protects is still there.
    CredentialsLost,
    /// The API server refused a change to a field that cannot change after creation.
    ImmutableField,
    /// The API server rejected a child for another reason.
    ApplyFailed,
    /// A workload cannot start (image pull, crash loop, progress deadline).
    RolloutStuck,
    /// A call to the API server failed (retried with backoff).
    ApiError,
    /// The stack lacks a field every stored object has.
    MissingObjectKey,
    /// Generating a key failed.
    KeyGeneration,
    /// `postgres.provider` is `cnpg` but the cluster does not serve CloudNativePG's API.
    CloudNativePgMissing,
    /// `mongodb.provider` is `community-operator` but the cluster does not serve the MongoDB
    /// operator's API.
    MongoDbOperatorMissing,
}

impl Fault {
    /// The CamelCase reason.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidSpec => "InvalidSpec",
            Self::InvalidObject => "InvalidObject",
            Self::MissingSecret => "MissingSecret",
            Self::CredentialsLost => "CredentialsLost",
            Self::ImmutableField => "ImmutableField",
            Self::ApplyFailed => "ApplyFailed",
            Self::RolloutStuck => "RolloutStuck",
            Self::ApiError => "ApiError",
            Self::MissingObjectKey => "MissingObjectKey",
            Self::KeyGeneration => "KeyGeneration",
            Self::CloudNativePgMissing => "CloudNativePGMissing",
            Self::MongoDbOperatorMissing => "MongoDBOperatorMissing",
        }
    }
}
