//! The real `auth` binary: configured from the environment, ready on `/readyz`, stops cleanly
//! on SIGTERM, and its log output carries no secret.

use std::process::Stdio;
use std::time::Duration;

use runtime::test_support::{free_port, wait_until};
use tokio::io::AsyncReadExt;

use super::helpers::{Servers, http_get};

#[tokio::test]
async fn the_binary_starts_from_the_environment_and_stops_on_sigterm() {
    let servers = Servers::start().await;
    let port = free_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_auth"))
        .env_clear()
        .env("NATS_URL", servers.nats.url())
        .env("MONGODB_URL", servers.mongo.url())
        .env("HEALTH_ADDR", format!("127.0.0.1:{port}"))
        .env("ADMIN_EMAIL", "ops@example.com")
        .env("ADMIN_PASSWORD", "Secret-Admin-Pass-42")
        .env("ARGON2_MEMORY_KIB", "256")
        .env("ARGON2_ITERATIONS", "1")
        .env("RUST_LOG", "debug")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_until("the binary is ready", Duration::from_secs(30), || async {
        http_get(addr, "/readyz").await.0 == 200
    })
    .await;

    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the binary exits after SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit}");

    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    assert!(out.contains("ephemeral key"), "{out}");
    assert!(out.contains("admin account created"), "{out}");
    assert!(
        !out.contains("Secret-Admin-Pass-42"),
        "the admin password leaked: {out}"
    );
}
