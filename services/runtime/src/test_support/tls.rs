//! Throwaway TLS certificates for servers that tests run with TLS on.

use std::path::Path;

/// A fresh CA and a server certificate it signed for `localhost` and `127.0.0.1`, made in
/// `dir` with the `openssl` CLI (Debian's `openssl` package): `(ca.crt, server.crt,
/// server.key)` as PEM.
///
/// # Panics
/// When `openssl` is missing or fails: this is test set-up.
#[must_use]
pub fn certificates(dir: &Path) -> (String, String, String) {
    let script = "set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=natstack-test-ca
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj /CN=localhost
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nkeyUsage=digitalSignature\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile ext.cnf
";
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("openssl runs (Debian's `openssl` package)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("certificate");
    (read("ca.crt"), read("server.crt"), read("server.key"))
}
