//! The typed `mongodbcommunity.mongodb.com/v1` `MongoDBCommunity` of the MongoDB community
//! operator, written for the fields the operator renders (see [`crate::manifests::custom`]);
//! `make manifests-test` checks the rendered objects against the CRD of the release named in
//! [`OPERATOR_RELEASE`].

use serde::{Deserialize, Serialize};

use crate::manifests::custom::{api_group, kind};

api_group!(
    /// API group of the MongoDB community operator's kind.
    "mongodbcommunity.mongodb.com",
    "v1"
);
/// The operator release whose CRD the rendered objects are checked against.
pub const OPERATOR_RELEASE: &str = "0.13.0";
/// How to install it (the Helm chart of that release, CRD included).
pub const OPERATOR_INSTALL: &str = "helm install community-operator community-operator --repo https://mongodb.github.io/helm-charts --version 0.13.0 --namespace mongodb --create-namespace --set operator.watchNamespace='*'";

kind!(
    /// A MongoDB replica set with SCRAM users.
    MongoDBCommunity,
    MongoDBCommunitySpec,
    "mongodbcommunity",
    status = MongoDBCommunityStatus
);

/// The desired state of a [`MongoDBCommunity`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MongoDBCommunitySpec {
    /// Members of the replica set.
    pub members: i32,
    /// `ReplicaSet`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The MongoDB server version (`8.0.12`).
    pub version: String,
    /// Authentication.
    pub security: Security,
    /// The users the operator creates and keeps.
    pub users: Vec<User>,
    /// Overrides of the StatefulSet it writes (volume sizes, resources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stateful_set: Option<StatefulSetOverride>,
}

/// Authentication of a [`MongoDBCommunity`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Security {
    /// The mechanisms.
    pub authentication: Authentication,
}

/// The authentication mechanisms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Authentication {
    /// `SCRAM`.
    pub modes: Vec<String>,
}

/// A SCRAM user.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The user's name.
    pub name: String,
    /// The database it authenticates against (and the path of its connection strings).
    pub db: String,
    /// The key of a Secret holding its password.
    pub password_secret_ref: SecretKeyRef,
    /// Its roles.
    pub roles: Vec<UserRole>,
    /// Name of the Secret the operator writes the SCRAM credentials into.
    pub scram_credentials_secret_name: String,
    /// Name of the Secret the operator publishes the connection strings in.
    pub connection_string_secret_name: String,
}

/// A key of a Secret of the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecretKeyRef {
    /// The Secret's name.
    pub name: String,
    /// The key.
    pub key: String,
}

/// A role granted on a database.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UserRole {
    /// The role (`readWrite`, `dbAdmin`).
    pub name: String,
    /// The database.
    pub db: String,
}

/// Overrides merged into the StatefulSet the MongoDB operator writes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatefulSetOverride {
    /// A partial StatefulSet spec (free-form in the CRD).
    pub spec: serde_json::Value,
}

/// What the MongoDB operator reports of a [`MongoDBCommunity`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MongoDBCommunityStatus {
    /// `Running`, `Pending` or `Failed`.
    #[serde(default)]
    pub phase: Option<String>,
    /// Members in the replica set.
    #[serde(default, rename = "currentMongoDBMembers")]
    pub current_mongo_db_members: Option<i32>,
    /// Why it is not running.
    #[serde(default)]
    pub message: Option<String>,
}
