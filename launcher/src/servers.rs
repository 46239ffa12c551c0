//! The third-party servers: nats-server, PostgreSQL and nx-27017 (the MongoDB-wire server),
//! found as the tests find them (`.venv/bin`, override variables, `PATH`), each a [`Child`] of
//! the launcher with its data in the system's data directory.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use contract::deploy::env::dev;
use nix::sys::signal::Signal;
use nix::unistd::chown;
use runtime::test_support::programs::{command_as, find, pg_bin_dir, service_user};
use runtime::test_support::{nats_server_bin, poll};

use crate::child::{Child, Spec};
use crate::error::LaunchError;

/// Polls `ready` every 50 ms until it holds, failing early when `child` exits and after
/// `timeout`.
pub(crate) async fn wait_ready<F, Fut>(
    child: &mut Child,
    what: &str,
    timeout: Duration,
    ready: F,
) -> Result<(), LaunchError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    if poll(timeout, Duration::from_millis(50), ready, || child.check()).await? {
        Ok(())
    } else {
        Err(LaunchError::NotReady {
            what: what.to_owned(),
            seconds: timeout.as_secs(),
            log: child.log.clone(),
        })
    }
}

/// Whether something accepts connections on loopback `port`.
pub(crate) async fn accepts(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
}

/// Starts nats-server on loopback `port` (with the users in `config`, if given) and waits
/// until it accepts connections.
pub(crate) async fn nats(
    port: u16,
    config: Option<&Path>,
    logs: &Path,
) -> Result<Child, LaunchError> {
    let bin = nats_server_bin()?;
    let mut spec = Spec::new("nats-server", bin);
    if let Some(config) = config {
        spec = spec.args(["-c".as_ref(), config.as_os_str()]);
    }
    let spec = spec.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
    let mut child = Child::spawn(spec, &logs.join("nats.log"))?;
    wait_ready(&mut child, "nats-server", Duration::from_secs(20), || {
        accepts(port)
    })
    .await?;
    Ok(child)
}

/// Starts nx-27017 on loopback `port` with its data, log and pid file under `data`, and waits
/// until it accepts connections. Its own pid file defaults to one fixed path per machine, which
/// would make a second server anywhere on the machine refuse to start.
pub(crate) async fn mongo(port: u16, data: &Path, logs: &Path) -> Result<Child, LaunchError> {
    let bin = find(
        "nx-27017",
        dev::NX_27017_BIN,
        "run `make setup` (installs the PyPI package `nx-27017` into .venv)",
    )?;
    // auth's users and refresh tokens.
    crate::files::private_dir(data)?;
    let pid_file = data.join("nx-27017.pid");
    // A pid file left by a killed server names a pid that may be reused by now.
    let _ = std::fs::remove_file(&pid_file);
    let spec = Spec::new("nx-27017", bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--data-dir".as_ref(), data.as_os_str()])
        .args(["--log-file".as_ref(), logs.join("nx-27017.log").as_os_str()])
        .args(["--pid-file".as_ref(), pid_file.as_os_str()]);
    let mut child = Child::spawn(spec, &logs.join("mongo.log"))?;
    wait_ready(&mut child, "nx-27017", Duration::from_secs(30), || {
        accepts(port)
    })
    .await?;
    Ok(child)
}

/// How PostgreSQL keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// fsync on: `make run` keeps its data.
    Durable,
    /// fsync off: throwaway data of a test or benchmark.
    Throwaway,
}

/// Starts PostgreSQL on loopback `port` over the cluster in `data` (created when missing),
/// waits until it accepts connections and creates `databases` that do not exist yet.
pub(crate) async fn postgres(
    port: u16,
    data: &Path,
    durability: Durability,
    databases: &[&str],
    logs: &Path,
) -> Result<Child, LaunchError> {
    let bin = pg_bin_dir()?;
    // PostgreSQL refuses to run as root: under root its programs run as `postgres`.
    let user = service_user()?;
    if !data.join("PG_VERSION").is_file() {
        init_cluster(&bin, user.as_ref(), data, durability, logs)?;
    }
    // A pid file left by a killed server would stop this one.
    let _ = std::fs::remove_file(data.join("postmaster.pid"));
    let mut spec = Spec::new("postgres", bin.join("postgres"))
        .args(["-D".as_ref(), data.as_os_str()])
        .args(["-p", &port.to_string()])
        .args(["-k".as_ref(), data.as_os_str()])
        .args(["-c", "listen_addresses=127.0.0.1"]);
    if durability == Durability::Throwaway {
        spec = spec.args(["-c", "fsync=off", "-c", "synchronous_commit=off"]);
        spec = spec.args(["-c", "full_page_writes=off", "-c", "max_connections=300"]);
    }
    spec.user = user;
    spec.stop_signal = Signal::SIGINT;
    let mut child = Child::spawn(spec, &logs.join("postgres.log"))?;
    let ready = bin.join("pg_isready");
    wait_ready(&mut child, "PostgreSQL", Duration::from_secs(60), || {
        let ready = ready.clone();
        async move {
            tokio::process::Command::new(ready)
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .await
                .is_ok_and(|s| s.success())
        }
    })
    .await?;
    for database in databases {
        create_database(&bin, port, database).await?;
    }
    Ok(child)
}

/// Creates the cluster in `data` with trust authentication for user `postgres`.
fn init_cluster(
    bin: &Path,
    user: Option<&nix::unistd::User>,
    data: &Path,
    durability: Durability,
    logs: &Path,
) -> Result<(), LaunchError> {
    if data.exists() {
        std::fs::remove_dir_all(data)
            .map_err(LaunchError::io(format!("cannot empty {}", data.display())))?;
    }
    std::fs::create_dir_all(data)
        .map_err(LaunchError::io(format!("cannot create {}", data.display())))?;
    if let Some(user) = user {
        chown(data, Some(user.uid), Some(user.gid))
            .map_err(|e| LaunchError::io(format!("cannot chown {}", data.display()))(e.into()))?;
    }
    let mut initdb = command_as(&bin.join("initdb"), user);
    initdb
        .arg("-D")
        .arg(data)
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
        .arg("--no-instructions");
    if durability == Durability::Throwaway {
        initdb.arg("--no-sync");
    }
    let output = initdb
        .output()
        .map_err(LaunchError::io("cannot run initdb"))?;
    let log = logs.join("initdb.log");
    let _ = std::fs::write(&log, [output.stdout, output.stderr].concat());
    if output.status.success() {
        Ok(())
    } else {
        Err(LaunchError::Setup(format!(
            "initdb failed; the end of its log ({}):\n{}",
            log.display(),
            crate::child::log_tail(&log, 30)
        )))
    }
}

/// Creates database `name` unless it exists.
async fn create_database(bin: &Path, port: u16, name: &str) -> Result<(), LaunchError> {
    let psql = |sql: String| {
        let program: PathBuf = Some(bin.join("psql"))
            .filter(|p| p.is_file())
            .unwrap_or_else(|| "psql".into());
        let mut command = Command::new(program);
        command
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-c", &sql]);
        tokio::process::Command::from(command)
    };
    let exists = psql(format!(
        "SELECT 1 FROM pg_database WHERE datname = '{name}'"
    ))
    .output()
    .await
    .map_err(LaunchError::io("cannot run psql"))?;
    if String::from_utf8_lossy(&exists.stdout).trim() == "1" {
        return Ok(());
    }
    let created = psql(format!("CREATE DATABASE {name}"))
        .output()
        .await
        .map_err(LaunchError::io("cannot run psql"))?;
    if created.status.success() {
        Ok(())
    } else {
        Err(LaunchError::Setup(format!(
            "cannot create database {name}: {}",
            String::from_utf8_lossy(&created.stderr).trim()
        )))
    }
}
