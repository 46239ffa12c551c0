//! The database engines' operators a stack hands its data to (CloudNativePG, the MongoDB
//! community operator): what the harness reads from their rendered objects, and the
//! addresses, names and Secrets they add to the stack before anything starts.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use operator::manifests::{Child, SecretData};
use operator::render::Rendered;

use crate::HarnessError;
use crate::cnpg::{self, Addresses, Database, INSTANCES_RUN, Plan, Role};
use crate::mongodb_community::{MongoPlan, MongoUser};
use crate::net::{Names, Subnet};

/// The engines' objects of a rendered stack, with the addresses given to them.
#[derive(Debug, Default)]
pub struct Engines {
    /// CNPG Clusters, their addresses and certificates.
    pub postgres: Vec<(Plan, Addresses, cnpg::tls::Certificates)>,
    /// MongoDBCommunity resources and their member's address.
    pub mongo: Vec<(MongoPlan, Ipv4Addr)>,
}

impl Engines {
    /// Reads the engines' objects of `rendered`, gives them addresses from `subnet` and names
    /// in `names`, and adds the Secrets their operators generate to `secrets` (certificates
    /// made under `root`).
    ///
    /// # Errors
    /// When a certificate cannot be made or a Secret an object names is missing.
    pub fn prepare(
        rendered: &Rendered,
        root: &Path,
        subnet: &mut Subnet,
        names: &mut Names,
        secrets: &mut SecretData,
    ) -> Result<Self, HarnessError> {
        let (postgres, mongo) = plans(rendered);
        let mut out = Self::default();
        for plan in postgres {
            let addresses = Addresses {
                services: cnpg::SERVICES
                    .iter()
                    .map(|s| ((*s).to_owned(), subnet.service()))
                    .collect::<BTreeMap<_, _>>(),
                instances: (0..INSTANCES_RUN).map(|_| subnet.pod()).collect(),
            };
            for (suffix, ip) in &addresses.services {
                names.add(&plan.service_host(suffix), *ip);
            }
            let (certs, generated) = cnpg::PgCluster::secrets(&plan, &plan.dir(root), &addresses)?;
            secrets.extend(generated);
            out.postgres.push((plan, addresses, certs));
        }
        for plan in mongo {
            let ip = subnet.pod();
            names.add(&plan.member_host(), ip);
            secrets.extend(plan.secrets(secrets)?);
            out.mongo.push((plan, ip));
        }
        Ok(out)
    }

    /// The addresses of the MongoDB stand-ins among them (they have no users).
    #[must_use]
    pub fn mongo_hosts(&self) -> Vec<String> {
        self.mongo.iter().map(|(_, ip)| ip.to_string()).collect()
    }

    /// What the stand-ins do not honour.
    #[must_use]
    pub fn notes(&self) -> Vec<String> {
        self.postgres
            .iter()
            .flat_map(|(plan, ..)| plan.notes())
            .chain(self.mongo.iter().flat_map(|(plan, _)| plan.notes()))
            .collect()
    }
}

/// The CNPG Clusters (with their Database and ScheduledBackup objects) and the
/// MongoDBCommunity resources of `rendered`.
#[must_use]
pub fn plans(rendered: &Rendered) -> (Vec<Plan>, Vec<MongoPlan>) {
    let namespace = rendered.namespace();
    let mut postgres = Vec::new();
    let mut mongo = Vec::new();
    for child in rendered.children.iter() {
        match child {
            Child::Cluster(cluster) => {
                let spec = &cluster.spec;
                postgres.push(Plan {
                    name: child.name().to_owned(),
                    namespace: namespace.clone(),
                    instances: spec.instances.unsigned_abs(),
                    parameters: spec.postgresql.parameters.clone(),
                    roles: spec
                        .managed
                        .iter()
                        .flat_map(|m| &m.roles)
                        .filter(|r| r.login)
                        .filter_map(|r| {
                            Some(Role {
                                name: r.name.clone(),
                                password_secret: r.password_secret.as_ref()?.name.clone(),
                            })
                        })
                        .collect(),
                    databases: Vec::new(),
                    backup: spec.backup.is_some(),
                    scheduled_backups: 0,
                    pod_monitor: spec
                        .monitoring
                        .as_ref()
                        .is_some_and(|m| m.enable_pod_monitor),
                });
            }
            Child::MongoDBCommunity(resource) => {
                let spec = &resource.spec;
                mongo.push(MongoPlan {
                    name: child.name().to_owned(),
                    namespace: namespace.clone(),
                    members: spec.members.unsigned_abs(),
                    version: spec.version.clone(),
                    users: spec
                        .users
                        .iter()
                        .map(|u| MongoUser {
                            name: u.name.clone(),
                            db: u.db.clone(),
                            password_secret: (
                                u.password_secret_ref.name.clone(),
                                u.password_secret_ref.key.clone(),
                            ),
                            connection_secret: u.connection_string_secret_name.clone(),
                        })
                        .collect(),
                });
            }
            _ => {}
        }
    }
    // Databases and backups name their Cluster.
    for child in rendered.children.iter() {
        let (cluster, database) = match child {
            Child::CnpgDatabase(d) => (
                &d.spec.cluster.name,
                Some(Database {
                    name: d.spec.name.clone(),
                    owner: d.spec.owner.clone(),
                }),
            ),
            Child::ScheduledBackup(b) => (&b.spec.cluster.name, None),
            _ => continue,
        };
        if let Some(plan) = postgres.iter_mut().find(|p| &p.name == cluster) {
            match database {
                Some(database) => plan.databases.push(database),
                None => plan.scheduled_backups += 1,
            }
        }
    }
    (postgres, mongo)
}
