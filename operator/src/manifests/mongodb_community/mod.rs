//! MongoDB through the MongoDB community operator (`spec.mongodb.provider:
//! community-operator`): instead of the operator's own StatefulSet and provisioning Jobs, a
//! [`MongoDBCommunity`] replica set whose SCRAM users are the stack's MongoDB services.
//!
//! The names the MongoDB operator works with, which the services and the test harness rely on
//! (a stand-in that plays the MongoDB operator must create the same):
//!
//! | Object | Name | What the stack reads |
//! | --- | --- | --- |
//! | MongoDBCommunity | `<stack>-mongodb` ([`resource_name`]) | `status.phase` (`Running`) |
//! | Service | `<stack>-mongodb-svc` (headless) | the members `<stack>-mongodb-<i>.<stack>-mongodb-svc.<ns>.svc` |
//! | Pods | label `app: <stack>-mongodb-svc` ([`POD_LABEL`], [`pod_label_value`]) | the NetworkPolicy selects them |
//! | Secret (read) | `<stack>-<service>-db`, key `password` | a user's `passwordSecretRef`: the operator's created-once credential Secret |
//! | Secret (written) | `<stack>-<service>-db-scram` ([`scram_secret`]) | nothing (SCRAM credentials the MongoDB operator keeps) |
//! | Secret (written) | `<stack>-<service>-db-connection` ([`connection_secret`]) | key `connectionString.standard` ([`CONNECTION_KEY`]): the service's `MONGODB_URL` |
//!
//! Each MongoDB service is a user named like the `username` of its credential Secret, stored
//! in its own database (the `database` of that Secret: the connection string's path, which
//! the service uses as its database) with `readWrite` and `dbAdmin` on it.

pub mod kinds;

use std::collections::BTreeMap;

use serde_json::json;

use self::kinds::{
    Authentication, MongoDBCommunitySpec, SecretKeyRef, Security, StatefulSetOverride, User,
    UserRole,
};
pub use self::kinds::{MongoDBCommunity, OPERATOR_INSTALL, OPERATOR_RELEASE};
use super::Child;
use super::common::Ctx;
use super::secrets::{service_db_names, service_db_secret};
use crate::crd::{DatabaseKind, DatabaseProvider};

/// Component label of the MongoDBCommunity (the stack's MongoDB, whoever runs it).
pub const COMPONENT: &str = "mongodb";
/// The label the MongoDB operator puts on the replica set's pods.
pub const POD_LABEL: &str = "app";
/// The key of a connection Secret the services read.
pub const CONNECTION_KEY: &str = "connectionString.standard";
/// The MongoDB version rendered when the image tag is not a full `major.minor.patch`.
pub const DEFAULT_VERSION: &str = "8.0.12";
/// The name of the data volume claim template of the MongoDB operator's StatefulSet.
pub const DATA_VOLUME: &str = "data-volume";

/// Whether the stack's MongoDB is a MongoDBCommunity.
#[must_use]
pub fn enabled(ctx: &Ctx<'_>) -> bool {
    ctx.spec.mongodb.provided_by() == Some(DatabaseProvider::CommunityOperator)
}

/// The MongoDBCommunity's name: `<stack>-mongodb`.
#[must_use]
pub fn resource_name(ctx: &Ctx<'_>) -> String {
    ctx.child(COMPONENT)
}

/// The headless Service the MongoDB operator creates for the resource `name`, which is also
/// the value of [`POD_LABEL`] on its pods: `<name>-svc`.
#[must_use]
pub fn service_of(name: &str) -> String {
    format!("{name}-svc")
}

/// The value of [`POD_LABEL`] on the replica set's pods: `<stack>-mongodb-svc`.
#[must_use]
pub fn pod_label_value(ctx: &Ctx<'_>) -> String {
    service_of(&resource_name(ctx))
}

/// The Secret the MongoDB operator publishes a service's connection strings in.
#[must_use]
pub fn connection_secret(ctx: &Ctx<'_>, service: &str) -> String {
    ctx.child(&format!("{service}-db-connection"))
}

/// The Secret the MongoDB operator keeps a service user's SCRAM credentials in.
#[must_use]
pub fn scram_secret(ctx: &Ctx<'_>, service: &str) -> String {
    ctx.child(&format!("{service}-db-scram"))
}

/// The MongoDB version: the image tag when it is a full version (`mongo:8.0.12`), else
/// [`DEFAULT_VERSION`].
#[must_use]
pub fn version(image: Option<&str>) -> String {
    image
        .and_then(|i| i.rsplit_once(':'))
        .map(|(_, tag)| tag.split('-').next().unwrap_or_default())
        .filter(|tag| {
            let parts: Vec<&str> = tag.split('.').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        })
        .map_or_else(|| DEFAULT_VERSION.to_owned(), str::to_owned)
}

/// The MongoDBCommunity; nothing unless the stack's MongoDB is provided by the MongoDB
/// operator.
#[must_use]
pub fn children(ctx: &Ctx<'_>) -> Vec<Child> {
    if !enabled(ctx) {
        return Vec::new();
    }
    let spec = &ctx.spec.mongodb;
    let users = ctx
        .spec
        .services_on(DatabaseKind::Mongodb)
        .map(|s| {
            let (user, database) = service_db_names(ctx, s);
            User {
                name: user,
                db: database.clone(),
                password_secret_ref: SecretKeyRef {
                    name: service_db_secret(ctx, &s.name),
                    key: "password".into(),
                },
                roles: ["readWrite", "dbAdmin"]
                    .into_iter()
                    .map(|role| UserRole {
                        name: role.into(),
                        db: database.clone(),
                    })
                    .collect(),
                scram_credentials_secret_name: scram_secret(ctx, &s.name),
                connection_string_secret_name: connection_secret(ctx, &s.name),
            }
        })
        .collect();
    let mut claim = json!({
        "metadata": {"name": DATA_VOLUME},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": spec.storage}},
        },
    });
    if let Some(class) = &spec.storage_class_name {
        claim["spec"]["storageClassName"] = json!(class);
    }
    let mut overrides = json!({"volumeClaimTemplates": [claim]});
    if let Some(resources) = &spec.resources {
        overrides["template"] = json!({
            "spec": {"containers": [{"name": "mongod", "resources": resources}]},
        });
    }
    vec![Child::MongoDBCommunity(MongoDBCommunity {
        metadata: ctx.meta(&resource_name(ctx), COMPONENT),
        spec: MongoDBCommunitySpec {
            members: spec.replicas(),
            type_: "ReplicaSet".into(),
            version: version(spec.image.as_deref()),
            security: Security {
                authentication: Authentication {
                    modes: vec!["SCRAM".into()],
                },
            },
            users,
            stateful_set: Some(StatefulSetOverride { spec: overrides }),
        },
        status: None,
    })]
}

/// The pod selector of the replica set's members.
#[must_use]
pub fn pod_selector(ctx: &Ctx<'_>) -> BTreeMap<String, String> {
    BTreeMap::from([(POD_LABEL.to_owned(), pod_label_value(ctx))])
}
