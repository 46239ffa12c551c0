//! With `nats.tls`, the servers require TLS with the given certificate and every client
//! trusts the given CA.

use std::path::Path;
use std::process::Command;

use operator::crd::NatsTlsSpec;
use operator::manifests::nats::{CLIENT_CA_DIR, TLS_DIR};

use super::support::{Ports, Rendered, Server};
use crate::common;

/// A CA and a server certificate for `localhost` and 127.0.0.1, made with the openssl CLI.
fn certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the openssl CLI is installed");
        assert!(status.success(), "openssl {args:?}");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"],
            &ec[..],
            &["-keyout", "ca.key", "-out", "ca.crt", "-days", "1"],
        ]
        .concat()
        .into_iter()
        .chain(["-subj", "/CN=natstack test CA"])
        .collect::<Vec<_>>(),
    );
    openssl(
        &[
            &["req"],
            &ec[..],
            &["-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=nats"],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "tls.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "tls.crt",
        "-days",
        "1",
        "-extfile",
        "san.ext",
    ]);
}

#[tokio::test]
async fn clients_connect_over_tls_trusting_the_given_ca() {
    let mut stack = common::load("minimal");
    stack.spec.nats.tls = Some(NatsTlsSpec {
        secret_name: "demo-nats-tls".into(),
    });
    let rendered = Rendered::new(stack);
    let env = rendered.env("gateway");
    assert_eq!(env["NATS_URL"], "tls://demo-nats.shop.svc:4222");
    assert_eq!(env["NATS_CA_FILE"], format!("{CLIENT_CA_DIR}/ca.crt"));

    // The Secret's files, where the server and the clients mount them.
    let certs = tempfile::tempdir().unwrap();
    certificates(certs.path());
    let moved = [(TLS_DIR.to_owned(), certs.path().display().to_string())];
    let server = Server::rendered(&rendered, "demo-nats-0", Ports::free(), &moved).await;
    let url = format!("tls://localhost:{}", server.ports.client);

    let mut args = rendered.nats_args("gateway", &url);
    args.nats_ca_file = Some(certs.path().join("ca.crt"));
    let client = runtime::connect::connect(&args, "gateway", true)
        .await
        .expect("a TLS connection trusting the CA");
    client.publish("customers.list", "hi".into()).await.unwrap();
    client.flush().await.unwrap();

    // Without the CA the certificate is not trusted; without TLS the server refuses.
    let mut untrusting = args.clone();
    untrusting.nats_ca_file = None;
    assert!(
        runtime::connect::connect(&untrusting, "gateway", true)
            .await
            .is_err()
    );
    let mut plain = args;
    plain.nats_ca_file = None;
    plain.nats_url = server.url();
    assert!(
        runtime::connect::connect(&plain, "gateway", true)
            .await
            .is_err()
    );
}
