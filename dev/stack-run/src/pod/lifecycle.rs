//! A container's life: its init step (the database images' entrypoints), the process under
//! the test bed's supervisor, and restarts with back-off as the kubelet's restart policy says.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testbed::process::{Child, Spec};
use testbed::programs;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::watch;

use super::containers::Prepared;
use super::{MAX_BACKOFF, Phase, Restart};

/// Runs one container until the pod stops (or, in a Job, until it succeeds or fails).
pub(super) async fn supervise(
    container: Prepared,
    restart: Restart,
    grace: Duration,
    up: Arc<AtomicBool>,
    restarts: Arc<AtomicU32>,
    phase: Arc<Mutex<Phase>>,
    mut stop: watch::Receiver<bool>,
) {
    let set_phase = |p: Phase| {
        if let Ok(mut guard) = phase.lock() {
            *guard = p;
        }
    };
    let mut failures = 0u32;
    let mut backoff = Duration::from_millis(500);
    loop {
        if let Err(e) = init(&container).await {
            note(
                &container.log,
                &format!("[stack-run] cannot initialise: {e}"),
            )
            .await;
        }
        let started = tokio::time::Instant::now();
        let status = match spawn(&container) {
            Err(e) => {
                note(&container.log, &format!("[stack-run] cannot start: {e}")).await;
                None
            }
            Ok(mut child) => {
                up.store(true, Ordering::Release);
                let outcome = tokio::select! {
                    status = child.wait() => status,
                    () = stopped(&mut stop) => {
                        // The kubelet's stop: SIGTERM, then SIGKILL after the grace period.
                        let _ = tokio::task::spawn_blocking(move || child.stop_within(grace)).await;
                        up.store(false, Ordering::Release);
                        return;
                    }
                };
                up.store(false, Ordering::Release);
                // The container's own children (a shell's psql) go with it.
                child.kill();
                outcome
            }
        };
        let code = status.map_or_else(|| "no status".to_owned(), |s| s.to_string());
        match restart {
            Restart::OnFailure { backoff_limit } => {
                if status.is_some_and(|s| s.success()) {
                    set_phase(Phase::Succeeded);
                    return;
                }
                failures += 1;
                if failures > backoff_limit {
                    set_phase(Phase::Failed(format!(
                        "{} failed {failures} times, last with {code}",
                        container.name
                    )));
                    return;
                }
            }
            Restart::Always => {}
        }
        restarts.fetch_add(1, Ordering::Relaxed);
        if started.elapsed() > Duration::from_secs(10) {
            backoff = Duration::from_millis(500);
        }
        note(
            &container.log,
            &format!(
                "[stack-run] container {} exited ({code}); restarting in {backoff:?}",
                container.name
            ),
        )
        .await;
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stopped(&mut stop) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Resolves once the pod is told to stop (drops the watch guard before any await).
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

pub(super) async fn note(log: &Path, line: &str) {
    if let Ok(mut file) = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .await
    {
        let _ = file.write_all(format!("{line}\n").as_bytes()).await;
    }
}

/// What the image's entrypoint does before the server: PostgreSQL's `initdb` on an empty data
/// directory (user and password from the env, `scram-sha-256` for network clients, as the
/// official image sets up).
pub(super) async fn init(container: &Prepared) -> Result<(), String> {
    if let Some(data) = &container.mongo_data {
        std::fs::create_dir_all(data.join("nx")).map_err(|e| e.to_string())?;
    }
    let Some(pg) = &container.pg else {
        return Ok(());
    };
    let user = programs::service_user().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&pg.socket_dir).map_err(|e| e.to_string())?;
    if let Some(parent) = pg.data.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    for dir in [
        &pg.socket_dir,
        &pg.data.parent().map(Path::to_path_buf).unwrap_or_default(),
    ] {
        chown_to(dir, user.as_ref())?;
    }
    if pg.data.join("PG_VERSION").is_file() {
        let _ = std::fs::remove_file(pg.data.join("postmaster.pid"));
        return Ok(());
    }
    let pwfile = pg.socket_dir.join(".pwfile");
    std::fs::write(&pwfile, format!("{}\n", pg.password)).map_err(|e| e.to_string())?;
    chown_to(&pwfile, user.as_ref())?;
    let bin = container.path.first().cloned().unwrap_or_default();
    let output = programs::command_as(&bin.join("initdb"), user.as_ref())
        .arg("-D")
        .arg(&pg.data)
        .arg(format!("--username={}", pg.user))
        .arg(format!("--pwfile={}", pwfile.display()))
        .args([
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
        ])
        .args(["--locale=C", "--no-sync", "--no-instructions"])
        .output()
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&pwfile);
    if !output.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    // The image listens on every address and lets any host in with a password.
    let hba = pg.data.join("pg_hba.conf");
    let mut text = std::fs::read_to_string(&hba).map_err(|e| e.to_string())?;
    text.push_str("host all all all scram-sha-256\n");
    std::fs::write(&hba, text).map_err(|e| e.to_string())?;
    let _ = pg.port;
    Ok(())
}

pub(super) fn chown_to(path: &Path, user: Option<&nix::unistd::User>) -> Result<(), String> {
    if let Some(user) = user {
        nix::unistd::chown(path, Some(user.uid), Some(user.gid)).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Starts a container's process under the test bed's supervisor: its own process group,
/// killed with stack-run, only the container's environment.
pub(super) fn spawn(container: &Prepared) -> Result<Child, testbed::HarnessError> {
    let (program, args) = container
        .argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    let mut spec = Spec::new(container.name.clone(), program).args(args);
    if container.pg.is_some() {
        spec.user = programs::service_user()?;
    }
    spec.clear_env = true;
    spec.env = container
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    spec.env
        .push(("PATH".to_owned(), search_path(&container.path)));
    spec.workdir = Some(container.workdir.clone());
    Child::spawn(spec, &container.log)
}

pub(super) fn search_path(first: &[PathBuf]) -> String {
    let mut dirs: Vec<PathBuf> = first.to_vec();
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs)
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}
