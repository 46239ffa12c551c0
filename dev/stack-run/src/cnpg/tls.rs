//! The certificates CloudNativePG generates for a Cluster: its own CA (the `<cluster>-ca`
//! Secret) and a server certificate it signed (`<cluster>-server`) for the names of the
//! Cluster's Services.
//!
//! Clients here dial the addresses the harness rewrites those names to, so `verify-full`
//! compares the server certificate with an address, not a name: the certificate carries the
//! Services' (and instances') loopback addresses as IP SANs beside CNPG's DNS SANs. The check
//! stays real (another address, or a certificate from another CA, is refused); what differs
//! from a cluster is that it matches an address instead of a name.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::HarnessError;

/// The PEM files of one Cluster's CA and server certificate.
#[derive(Clone, Debug)]
pub struct Certificates {
    /// The CA certificate (`<cluster>-ca` key `ca.crt`).
    pub ca_crt: PathBuf,
    /// The CA key (`<cluster>-ca` key `ca.key`).
    pub ca_key: PathBuf,
    /// The server certificate (`<cluster>-server` key `tls.crt`).
    pub server_crt: PathBuf,
    /// Its key (`<cluster>-server` key `tls.key`).
    pub server_key: PathBuf,
}

/// The DNS names CNPG puts in a Cluster's server certificate: each Service's name, with its
/// namespace, with `.svc` and with `.svc.cluster.local`.
#[must_use]
pub fn dns_names(cluster: &str, namespace: &str, services: &[&str]) -> Vec<String> {
    services
        .iter()
        .flat_map(|suffix| {
            let service = format!("{cluster}-{suffix}");
            [
                service.clone(),
                format!("{service}.{namespace}"),
                format!("{service}.{namespace}.svc"),
                format!("{service}.{namespace}.svc.cluster.local"),
            ]
        })
        .collect()
}

/// Makes a fresh CA named after `cluster` and a server certificate for `names` and
/// `addresses` in `dir`, with the `openssl` CLI.
///
/// # Errors
/// When `openssl` is missing or fails.
pub fn generate(
    dir: &Path,
    cluster: &str,
    names: &[String],
    addresses: &[Ipv4Addr],
) -> Result<Certificates, HarnessError> {
    std::fs::create_dir_all(dir).map_err(HarnessError::io(format!("create {}", dir.display())))?;
    let sans: Vec<String> = names
        .iter()
        .map(|n| format!("DNS:{n}"))
        .chain(addresses.iter().map(|a| format!("IP:{a}")))
        .collect();
    let ext = format!(
        "subjectAltName={}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\n",
        sans.join(",")
    );
    std::fs::write(dir.join("server.ext"), ext)
        .map_err(HarnessError::io(format!("write {}", dir.display())))?;
    let script = format!(
        "set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 90 -subj '/OU={cluster}/CN={cluster}' 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj '/CN={cluster}-rw' 2>/dev/null
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 90 -extfile server.ext 2>/dev/null
"
    );
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .map_err(HarnessError::io("run openssl (Debian's `openssl` package)"))?;
    if !output.status.success() {
        return Err(HarnessError::Reference(format!(
            "cannot make the certificates of {cluster}: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(Certificates {
        ca_crt: dir.join("ca.crt"),
        ca_key: dir.join("ca.key"),
        server_crt: dir.join("server.crt"),
        server_key: dir.join("server.key"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_certificate_names_every_service_and_address() {
        let dir = std::env::temp_dir().join(format!("cnpg-tls-{}", std::process::id()));
        let names = dns_names("shop-postgres", "team-a", &["rw", "ro", "r"]);
        assert!(names.contains(&"shop-postgres-rw.team-a.svc".to_owned()));
        let certs = generate(
            &dir,
            "shop-postgres",
            &names,
            &[Ipv4Addr::new(127, 9, 9, 1)],
        )
        .expect("openssl");
        let text = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
            .arg(&certs.server_crt)
            .output()
            .expect("openssl");
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(
            text.contains("DNS:shop-postgres-ro.team-a.svc.cluster.local")
                && text.contains("IP Address:127.9.9.1"),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
