//! `make stack-run STACK=examples/minimal.yaml` as the README documents it: the binary run with
//! relative paths (`-f`, `--bin-dir` and the default `--state-dir`), as the Makefile runs it
//! from the checkout. The other tests hand the harness absolute directories, which once hid a
//! `stack-run` that could start no stack at all (nats-server, started in its pod's directory,
//! could not find its relative config).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};

use super::common::{bin_dir, workspace};
use super::http;

/// Longest the stack may take to come up on a loaded machine.
const START: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_command_runs_a_stack_from_relative_paths() {
    let dir = super::tempfile_dir("command");
    std::os::unix::fs::symlink(bin_dir(), dir.join("bin")).unwrap();
    std::fs::copy(
        workspace().join("examples/minimal.yaml"),
        dir.join("minimal.yaml"),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("stack-run.log")).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stack-run"))
        .args(["-f", "minimal.yaml", "--bin-dir", "bin"])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut gateway, mut email, mut password) = (None, None, None);
    let started = tokio::time::timeout(START, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("Gateway: ") {
                gateway = Some(url.to_owned());
            } else if let Some(value) = line.strip_prefix("Admin email: ") {
                email = Some(value.to_owned());
            } else if let Some(value) = line.strip_prefix("Admin password: ") {
                password = Some(value.to_owned());
            } else if line.starts_with("Press Ctrl-C") {
                return true;
            }
        }
        false
    })
    .await;
    let output = || std::fs::read_to_string(dir.join("stack-run.log")).unwrap_or_default();
    assert_eq!(started, Ok(true), "stack-run did not start:\n{}", output());
    let api = http::Api::new(&gateway.expect("stack-run prints the gateway"));
    let login = serde_json::json!({"email": email.unwrap(), "password": password.unwrap()});
    let reply = api.call("POST", "/auth/login", None, Some(login)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // Its state is where the documentation says, below the directory it was started in.
    assert!(dir.join(".run/stack-run").is_dir());

    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("stack-run stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}:\n{}", output());
    let _ = std::fs::remove_dir_all(&dir);
}
