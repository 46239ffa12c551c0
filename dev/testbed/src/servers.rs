//! The third-party servers as processes of a long-running system: nats-server, PostgreSQL and
//! nx-27017 (the MongoDB-wire server) on given ports with their data in given directories,
//! each a [`Child`] that is ready when returned. The launcher runs `make run`'s system with
//! them; [`NatsServer`](crate::NatsServer), [`PgServer`](crate::PgServer) and
//! [`MongoServer`](crate::MongoServer) wrap them for tests (free ports, throwaway data).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use contract::deploy::env::dev;
use nix::sys::signal::Signal;
use nix::unistd::{User, chown};

use crate::HarnessError;
use crate::nats_server_bin;
use crate::postgres::is_ready;
use crate::process::{Child, Spec, accepts, log_tail};
use crate::programs::{command_as, find, pg_bin_dir, service_user};

/// How often readiness is polled.
const EVERY: Duration = Duration::from_millis(10);

/// Starts nats-server on loopback `port` (with the users in `config`, if given, and its HTTP
/// monitoring endpoints `/varz`, `/routez`, … on loopback `monitor`, if given) and waits until
/// it accepts connections.
pub async fn nats(
    port: u16,
    config: Option<&Path>,
    monitor: Option<u16>,
    log: &Path,
) -> Result<Child, HarnessError> {
    let bin = nats_server_bin()?;
    let mut spec = Spec::new("nats-server", bin);
    if let Some(config) = config {
        spec = spec.args(["-c".as_ref(), config.as_os_str()]);
    }
    if let Some(monitor) = monitor {
        spec = spec.args(["-m", &monitor.to_string()]);
    }
    let spec = spec.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
    let mut child = Child::spawn(spec, log)?;
    child
        .wait_ready("nats-server", Duration::from_secs(20), EVERY, || {
            greets(port)
        })
        .await?;
    Ok(child)
}

/// Starts nx-27017 on loopback `port` with its data and pid file under `data`, its own log in
/// `logs/nx-27017.log` and its output in `logs/mongo.log`, and waits
/// until it accepts connections. Its own pid file defaults to one fixed path per machine, which
/// would make a second server anywhere on the machine refuse to start.
pub async fn mongo(port: u16, data: &Path, logs: &Path) -> Result<Child, HarnessError> {
    let bin = find(
        "nx-27017",
        dev::NX_27017_BIN,
        "run `make setup` (installs the PyPI package `nx-27017` into .venv)",
    )?;
    let pid_file = data.join("nx-27017.pid");
    // A pid file left by a killed server names a pid that may be reused by now.
    let _ = std::fs::remove_file(&pid_file);
    let spec = Spec::new("nx-27017", bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--data-dir".as_ref(), data.as_os_str()])
        .args(["--log-file".as_ref(), logs.join("nx-27017.log").as_os_str()])
        .args(["--pid-file".as_ref(), pid_file.as_os_str()]);
    let mut child = Child::spawn(spec, &logs.join("mongo.log"))?;
    child
        .wait_ready("nx-27017", Duration::from_secs(30), EVERY, || accepts(port))
        .await?;
    Ok(child)
}

/// How PostgreSQL keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync on: `make run` keeps its data.
    Durable,
    /// fsync off: throwaway data of a test or benchmark.
    Throwaway,
}

/// The settings of a cluster whose data is thrown away: no fsync, and room for the
/// connections of many tests and services.
pub const THROWAWAY: [&str; 4] = [
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=300",
];

/// Starts PostgreSQL on loopback `port` over the cluster in `data` (created when missing),
/// waits until it accepts connections and creates `databases` that do not exist yet.
pub async fn postgres(
    port: u16,
    data: &Path,
    durability: Durability,
    databases: &[&str],
    logs: &Path,
) -> Result<Child, HarnessError> {
    let bin = pg_bin_dir()?;
    // PostgreSQL refuses to run as root: under root its programs run as `postgres`.
    let user = service_user()?;
    if !data.join("PG_VERSION").is_file() {
        init_cluster(&bin, user.as_ref(), data, durability, logs)?;
    }
    let settings: &[&str] = match durability {
        Durability::Durable => &[],
        Durability::Throwaway => &THROWAWAY,
    };
    let server = PgProcess {
        bin: &bin,
        user,
        data,
        socket_dir: data,
        port,
        settings: settings.iter().map(|s| (*s).to_owned()).collect(),
    };
    let child = server.start(&logs.join("postgres.log")).await?;
    for database in databases {
        create_database(&bin, port, database).await?;
    }
    Ok(child)
}

/// One PostgreSQL server process over an existing cluster.
#[derive(Debug)]
pub struct PgProcess<'a> {
    /// The directory of PostgreSQL's server programs.
    pub bin: &'a Path,
    /// Run as this user (PostgreSQL refuses root).
    pub user: Option<User>,
    /// The cluster.
    pub data: &'a Path,
    /// Where its Unix socket goes.
    pub socket_dir: &'a Path,
    /// The loopback port.
    pub port: u16,
    /// `-c` settings.
    pub settings: Vec<String>,
}

impl PgProcess<'_> {
    /// Starts the server, its output appended to `log`, and waits until it accepts
    /// connections.
    pub async fn start(&self, log: &Path) -> Result<Child, HarnessError> {
        // A pid file left by a killed server would stop this one.
        let pid_file = self.data.join("postmaster.pid");
        let _ = std::fs::remove_file(&pid_file);
        let mut spec = Spec::new("postgres", self.bin.join("postgres"))
            .args(["-D".as_ref(), self.data.as_os_str()])
            .args(["-p", &self.port.to_string()])
            .args(["-k".as_ref(), self.socket_dir.as_os_str()])
            .args(["-c", "listen_addresses=127.0.0.1"]);
        for setting in &self.settings {
            spec = spec.args(["-c", setting]);
        }
        spec.user.clone_from(&self.user);
        // SIGINT is PostgreSQL's "fast shutdown": it ends sessions and exits cleanly.
        spec.stop_signal = Signal::SIGINT;
        let mut child = Child::spawn(spec, log)?;
        let port = self.port;
        child
            .wait_ready("PostgreSQL", Duration::from_secs(60), EVERY, || {
                let pid_file = pid_file.clone();
                async move { is_ready(&pid_file) && accepts(port).await }
            })
            .await?;
        Ok(child)
    }
}

/// Creates the cluster in `data` with trust authentication for user `postgres`.
fn init_cluster(
    bin: &Path,
    user: Option<&User>,
    data: &Path,
    durability: Durability,
    logs: &Path,
) -> Result<(), HarnessError> {
    if data.exists() {
        std::fs::remove_dir_all(data)?;
    }
    std::fs::create_dir_all(data)?;
    if let Some(user) = user {
        chown(data, Some(user.uid), Some(user.gid)).map_err(std::io::Error::from)?;
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
    let output = initdb.output()?;
    let log = logs.join("initdb.log");
    let _ = std::fs::write(&log, [output.stdout, output.stderr].concat());
    if output.status.success() {
        Ok(())
    } else {
        Err(HarnessError::postgres(format!(
            "initdb failed; the end of its log ({}):\n{}",
            log.display(),
            log_tail(&log, 30)
        )))
    }
}

/// Creates database `name` unless it exists.
async fn create_database(bin: &Path, port: u16, name: &str) -> Result<(), HarnessError> {
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
    .await?;
    if String::from_utf8_lossy(&exists.stdout).trim() == "1" {
        return Ok(());
    }
    let created = psql(format!("CREATE DATABASE {name}")).output().await?;
    if created.status.success() {
        Ok(())
    } else {
        Err(HarnessError::postgres(format!(
            "cannot create database {name}: {}",
            String::from_utf8_lossy(&created.stderr).trim()
        )))
    }
}

/// Whether a NATS server answers on `port` with its INFO greeting.
pub(crate) async fn greets(port: u16) -> bool {
    use tokio::io::AsyncReadExt as _;
    let Ok(Ok(mut stream)) = tokio::time::timeout(
        Duration::from_millis(200),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    else {
        return false;
    };
    let mut buf = [0u8; 5];
    matches!(
        tokio::time::timeout(Duration::from_millis(500), stream.read_exact(&mut buf)).await,
        Ok(Ok(_)) if &buf == b"INFO "
    )
}
