//! The binary takes the shared configuration: the same env vars every natstack service reads
//! (this test also makes `cargo test` build the binary the rendered-stack test runs).

#[test]
fn help_lists_the_shared_env_vars() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_greeter"))
        .arg("--help")
        .output()
        .expect("run greeter --help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for var in [
        "NATS_URL",
        "NATS_USER",
        "NATS_PASSWORD",
        "HEALTH_ADDR",
        "LOG_FORMAT",
    ] {
        assert!(
            help.contains(&format!("[env: {var}")),
            "{var} missing from:\n{help}"
        );
    }
}
