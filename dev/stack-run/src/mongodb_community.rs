//! The MongoDB community operator's part, played by the harness: what it makes of a
//! `mongodbcommunity.mongodb.com/v1` `MongoDBCommunity`.
//!
//! - one member pod `<name>-0` (label `app: <name>-svc`, as the operator labels them) running
//!   the MongoDB stand-in (`nx-27017`) on its own address, reachable as
//!   `<name>-0.<name>-svc.<ns>.svc` (the headless Service);
//! - for each user, the connection-string Secret the operator publishes
//!   (`connectionString.standard`, `connectionString.standardSrv`, `username`, `password`),
//!   with the user's password from its `passwordSecretRef` and the user's database as the path.
//!
//! The stand-in has no users and is no replica set: the connection strings name the one member
//! run and the services reach it without credentials and without `replicaSet` (see
//! [`MongoPlan::notes`]).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, PodSpec, Probe, TCPSocketAction, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use operator::manifests::SecretData;
use operator::manifests::mongodb_community::{CONNECTION_KEY, DATA_VOLUME, POD_LABEL};

use crate::HarnessError;
use crate::pod::{PodDef, Restart};

/// The port of the replica set's members.
pub const PORT: u16 = contract::deploy::MONGODB_PORT;

/// One SCRAM user of the resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MongoUser {
    /// The user name.
    pub name: String,
    /// Its database (authentication and the connection string's path).
    pub db: String,
    /// The Secret and key of its password.
    pub password_secret: (String, String),
    /// The connection-string Secret the operator writes for it.
    pub connection_secret: String,
}

/// What the harness reads from one MongoDBCommunity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MongoPlan {
    /// The resource's name (`<stack>-mongodb`).
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// `spec.members`.
    pub members: u32,
    /// `spec.version`.
    pub version: String,
    /// `spec.users`.
    pub users: Vec<MongoUser>,
}

impl MongoPlan {
    /// The headless Service the operator creates: `<name>-svc`.
    #[must_use]
    pub fn service(&self) -> String {
        operator::manifests::mongodb_community::service_of(&self.name)
    }

    /// The first member's pod name.
    #[must_use]
    pub fn member(&self) -> String {
        format!("{}-0", self.name)
    }

    /// The first member's DNS name, up to `.svc`.
    #[must_use]
    pub fn member_host(&self) -> String {
        format!(
            "{}.{}.{}.svc",
            self.member(),
            self.service(),
            self.namespace
        )
    }

    /// The connection-string Secrets the operator publishes, from the users' password
    /// Secrets in `secrets`.
    ///
    /// # Errors
    /// [`HarnessError::Reference`] when a password Secret or key is missing.
    pub fn secrets(&self, secrets: &SecretData) -> Result<SecretData, HarnessError> {
        let host = format!("{}.cluster.local:{PORT}", self.member_host());
        let mut out = SecretData::new();
        for user in &self.users {
            let (secret, key) = &user.password_secret;
            let password = secrets
                .get(secret)
                .and_then(|s| s.get(key))
                .ok_or_else(|| {
                    HarnessError::Reference(format!(
                        "MongoDBCommunity {}: user {} names Secret {secret} key {key}, which does \
                     not exist",
                        self.name, user.name
                    ))
                })?;
            let credentials = format!("{}:{}", encode(&user.name), encode(password));
            let query = format!("replicaSet={}&ssl=false", self.name);
            let standard = format!("mongodb://{credentials}@{host}/{}?{query}", user.db);
            let srv = format!(
                "mongodb+srv://{credentials}@{}.{}.svc.cluster.local/{}?{query}",
                self.service(),
                self.namespace,
                user.db
            );
            out.insert(
                user.connection_secret.clone(),
                BTreeMap::from([
                    (CONNECTION_KEY.to_owned(), standard),
                    ("connectionString.standardSrv".to_owned(), srv),
                    ("username".to_owned(), user.name.clone()),
                    ("password".to_owned(), password.clone()),
                ]),
            );
        }
        Ok(out)
    }

    /// The member pod, as the operator's StatefulSet would run it (the image maps to the
    /// stand-in; ready once it accepts connections).
    #[must_use]
    pub fn pod(&self) -> PodDef {
        let container = Container {
            name: "mongod".into(),
            image: Some(format!("mongo:{}", self.version)),
            ports: Some(vec![ContainerPort {
                name: Some("mongodb".into()),
                container_port: i32::from(PORT),
                ..ContainerPort::default()
            }]),
            volume_mounts: Some(vec![VolumeMount {
                name: DATA_VOLUME.into(),
                mount_path: "/data/db".into(),
                ..VolumeMount::default()
            }]),
            readiness_probe: Some(Probe {
                tcp_socket: Some(TCPSocketAction {
                    port: IntOrString::Int(i32::from(PORT)),
                    ..TCPSocketAction::default()
                }),
                ..Probe::default()
            }),
            ..Container::default()
        };
        PodDef {
            name: self.member(),
            labels: BTreeMap::from([(POD_LABEL.to_owned(), self.service())]),
            spec: PodSpec {
                containers: vec![container],
                ..PodSpec::default()
            },
            claims: vec![DATA_VOLUME.to_owned()],
            restart: Restart::Always,
        }
    }

    /// What the harness does not honour of this resource.
    #[must_use]
    pub fn notes(&self) -> Vec<String> {
        vec![format!(
            "MongoDBCommunity {}: one member of {} runs, as the MongoDB stand-in (nx-27017): \
             no replica set (the services connect without replicaSet) and no SCRAM users (the \
             connection strings' credentials are not checked); the connection-string Secrets \
             are published as the MongoDB operator does",
            self.name, self.members
        )]
    }
}

/// Percent-encodes what a connection string's user info may not hold as is.
fn encode(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._~".contains(c) {
                c.to_string()
            } else {
                let mut buf = [0u8; 4];
                c.encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_secrets_are_published_as_the_operator_does() {
        let plan = MongoPlan {
            name: "shop-mongodb".into(),
            namespace: "team-a".into(),
            members: 3,
            version: "8.0.12".into(),
            users: vec![MongoUser {
                name: "shop_auth".into(),
                db: "auth".into(),
                password_secret: ("shop-auth-db".into(), "password".into()),
                connection_secret: "shop-auth-db-connection".into(),
            }],
        };
        let secrets = SecretData::from([(
            "shop-auth-db".to_owned(),
            BTreeMap::from([("password".to_owned(), "p@ss/word".to_owned())]),
        )]);
        let out = plan.secrets(&secrets).unwrap();
        assert_eq!(
            out["shop-auth-db-connection"][CONNECTION_KEY],
            "mongodb://shop_auth:p%40ss%2Fword@shop-mongodb-0.shop-mongodb-svc.team-a.svc.\
             cluster.local:27017/auth?replicaSet=shop-mongodb&ssl=false"
        );
        assert_eq!(plan.pod().labels[POD_LABEL], "shop-mongodb-svc");
        assert!(plan.secrets(&SecretData::new()).is_err());
    }
}
