//! One PostgreSQL instance of a Cluster (`<cluster>-1`, `<cluster>-2`, as CNPG names its
//! pods): initialised as a primary (`initdb`) or cloned from one as a streaming replica
//! (`pg_basebackup -R`), listening on its own loopback address with TLS, promoted or stopped
//! with a fast shutdown, as CNPG's instance manager does.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::User;
use testbed::process::{Child, Spec};
use testbed::programs::{command_as, pg_bin_dir, service_user};

use super::tls::Certificates;
use crate::HarnessError;

/// The port every instance listens on, as in CNPG's pods.
pub const PORT: u16 = contract::deploy::POSTGRES_PORT;

/// The replication user CNPG creates (it authenticates with a client certificate there; see
/// the notes).
pub const STREAMING_REPLICA: &str = "streaming_replica";

/// One instance.
#[derive(Debug)]
pub struct Instance {
    /// Pod name: `<cluster>-<n>`.
    pub name: String,
    /// Its address.
    pub ip: Ipv4Addr,
    dir: PathBuf,
    /// Where its Unix socket goes: a short path of its own under the temporary directory
    /// (a socket path may not exceed 107 bytes, which a state directory easily does).
    socket: PathBuf,
    bin: PathBuf,
    user: Option<User>,
    settings: Vec<String>,
    process: Option<Child>,
}

impl Instance {
    /// An instance with its files under `dir`, run with `settings` (`-c` values) beside the
    /// ones every instance has (address, TLS, `pg_hba.conf` in `hba`).
    ///
    /// # Errors
    /// When PostgreSQL's programs or the `postgres` user (under root) are missing.
    pub fn new(
        name: String,
        ip: Ipv4Addr,
        dir: PathBuf,
        certs: &Certificates,
        hba: &Path,
        parameters: &[(String, String)],
    ) -> Result<Self, HarnessError> {
        // The address is unique on this machine while the instance runs.
        let socket = std::env::temp_dir().join(format!("natstack-cnpg-{ip}"));
        let mut settings = vec![
            format!("listen_addresses={ip}"),
            format!("unix_socket_directories={}", socket.display()),
            "ssl=on".to_owned(),
            format!("ssl_cert_file={}", certs.server_crt.display()),
            format!("ssl_key_file={}", certs.server_key.display()),
            format!("hba_file={}", hba.display()),
            // Enough WAL kept for a replica cloned a moment ago to catch up.
            "wal_keep_size=128MB".to_owned(),
            // A clone's first start syncs its data directory: one syncfs, not a walk of
            // every file (seconds on a busy disk).
            "recovery_init_sync_method=syncfs".to_owned(),
        ];
        settings.extend(parameters.iter().map(|(k, v)| format!("{k}={v}")));
        Ok(Self {
            name,
            ip,
            dir,
            socket,
            bin: pg_bin_dir()?,
            user: service_user()?,
            settings,
            process: None,
        })
    }

    /// The instance's PostgreSQL address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, PORT))
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Whether it has a data directory already (from an earlier run).
    #[must_use]
    pub fn initialised(&self) -> bool {
        self.data().join("PG_VERSION").is_file()
    }

    /// Makes the directories, owned by the server's user.
    fn prepare(&self) -> Result<(), HarnessError> {
        for dir in [self.dir.clone(), self.socket.clone()] {
            std::fs::create_dir_all(&dir)
                .map_err(HarnessError::io(format!("create {}", dir.display())))?;
            chown(&dir, self.user.as_ref())?;
        }
        Ok(())
    }

    /// `initdb` with the `postgres` superuser trusted on the Unix socket only.
    ///
    /// # Errors
    /// When `initdb` fails (with its output).
    pub fn init_primary(&self) -> Result<(), HarnessError> {
        self.prepare()?;
        let output = command_as(&self.bin.join("initdb"), self.user.as_ref())
            .arg("-D")
            .arg(self.data())
            .args(["-U", "postgres", "--auth-local=trust", "--auth-host=reject"])
            .args(["-E", "UTF8", "--locale=C", "--no-instructions"])
            .output()
            .map_err(HarnessError::io("run initdb"))?;
        check(&self.name, "initdb", &output)
    }

    /// Replaces the data directory with a streaming clone of `primary` (`pg_basebackup -R`:
    /// the clone starts as a hot standby following it), verifying the primary's certificate.
    ///
    /// # Errors
    /// When `pg_basebackup` fails (with its output).
    pub fn clone_from(&self, primary: &Instance, ca: &Path) -> Result<(), HarnessError> {
        self.prepare()?;
        let data = self.data();
        if data.exists() {
            std::fs::remove_dir_all(&data)
                .map_err(HarnessError::io(format!("remove {}", data.display())))?;
        }
        // No client certificate: libpq would look in the home directory, which the server's
        // user (under root) may not read; a missing file is not an error.
        let no_cert = self.dir.join("no-client-certificate");
        let conninfo = format!(
            "host={} port={PORT} user={STREAMING_REPLICA} sslmode=verify-full sslrootcert={} \
             sslcert={} sslkey={} application_name={}",
            primary.ip,
            ca.display(),
            no_cert.display(),
            no_cert.display(),
            self.name
        );
        let output = command_as(&self.bin.join("pg_basebackup"), self.user.as_ref())
            .arg("-D")
            .arg(&data)
            .args(["-d", &conninfo, "-R", "-X", "stream", "--checkpoint=fast"])
            // A replica is cloned afresh on every start: nothing to gain from syncing the copy.
            .arg("--no-sync")
            .output()
            .map_err(HarnessError::io("run pg_basebackup"))?;
        check(&self.name, "pg_basebackup", &output)
    }

    /// Starts the server and waits until it answers on its socket.
    ///
    /// # Errors
    /// When it cannot be spawned or does not answer within a minute (with its log).
    pub async fn start(&mut self) -> Result<(), HarnessError> {
        // The socket directory is not kept between runs (a data directory is).
        self.prepare()?;
        let _ = std::fs::remove_file(self.data().join("postmaster.pid"));
        let mut spec = Spec::new(self.name.clone(), self.bin.join("postgres"))
            .args(["-D".as_ref(), self.data().as_os_str()])
            .args(["-p", &PORT.to_string()]);
        for setting in &self.settings {
            spec = spec.args(["-c", setting]);
        }
        spec.user.clone_from(&self.user);
        // SIGINT is PostgreSQL's fast shutdown: sessions end, the last WAL reaches the
        // standbys, a shutdown checkpoint is written.
        spec.stop_signal = Signal::SIGINT;
        let mut child = Child::spawn(spec, &self.dir.join("postgres.log"))?;
        let socket = self.socket.clone();
        let psql = self.bin.join("psql");
        child
            .wait_ready(
                "PostgreSQL instance",
                Duration::from_secs(60),
                Duration::from_millis(50),
                || {
                    let (socket, psql) = (socket.clone(), psql.clone());
                    async move { query(&psql, &socket, "postgres", "SELECT 1").await.is_ok() }
                },
            )
            .await?;
        self.process = Some(child);
        Ok(())
    }

    /// Fast shutdown (SIGINT), waiting until the server has exited; its socket directory goes
    /// with it.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = tokio::task::spawn_blocking(move || child.stop_within(Duration::from_secs(30)))
                .await;
            let _ = std::fs::remove_dir_all(&self.socket);
        }
    }

    /// Whether the server process is running.
    #[must_use]
    pub fn running(&self) -> bool {
        self.process.is_some()
    }

    /// Runs `sql` as the superuser over the Unix socket; its output (unaligned, tuples only).
    ///
    /// # Errors
    /// [`HarnessError::Reference`] with psql's error.
    pub async fn psql(&self, database: &str, sql: &str) -> Result<String, HarnessError> {
        query(&self.bin.join("psql"), &self.socket, database, sql)
            .await
            .map_err(|e| HarnessError::Reference(format!("{}: {e}", self.name)))
    }

    /// The location of the last checkpoint in the control file (after a clean shutdown: the
    /// shutdown checkpoint, the last thing the server wrote).
    ///
    /// # Errors
    /// When `pg_controldata` fails or prints no checkpoint.
    pub fn last_checkpoint(&self) -> Result<String, HarnessError> {
        let output = command_as(&self.bin.join("pg_controldata"), self.user.as_ref())
            .arg(self.data())
            .output()
            .map_err(HarnessError::io("run pg_controldata"))?;
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("Latest checkpoint location:"))
            .map(|l| l.trim().to_owned())
            .ok_or_else(|| {
                HarnessError::Reference(format!(
                    "{}: pg_controldata shows no checkpoint",
                    self.name
                ))
            })
    }
}

/// `psql` over the socket in `socket` as `postgres`, the statements on its standard input
/// (not its arguments: they carry the roles' passwords, which any process may list).
async fn query(psql: &Path, socket: &Path, database: &str, sql: &str) -> Result<String, String> {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new(psql)
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h"])
        .arg(socket)
        .args(["-p", &PORT.to_string(), "-U", "postgres", "-d", database])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(sql.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
    }
    let output = child.wait_with_output().await.map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

fn check(name: &str, what: &str, output: &std::process::Output) -> Result<(), HarnessError> {
    if output.status.success() {
        Ok(())
    } else {
        Err(HarnessError::Reference(format!(
            "{name}: {what} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}

/// Gives `path` to the server's user (PostgreSQL refuses to run as root).
pub(super) fn chown(path: &Path, user: Option<&User>) -> Result<(), HarnessError> {
    if let Some(user) = user {
        nix::unistd::chown(path, Some(user.uid), Some(user.gid))
            .map_err(|e| HarnessError::io(format!("chown {}", path.display()))(e.into()))?;
    }
    Ok(())
}
