//! A throwaway PostgreSQL cluster on a free loopback port.
//!
//! `initdb` is slow (about a second), so it runs once per machine into a template directory
//! that every server copies; a server then starts in a few hundred milliseconds. Durability
//! settings are off: test data is thrown away. PostgreSQL refuses to run as root, so under
//! root the server programs run as the `postgres` system user that Debian's package creates.

use std::path::{Path, PathBuf};
use std::process::Command;

use nix::unistd::{Uid, User, chown};
use tempfile::TempDir;

use crate::HarnessError;
use crate::process::Child;
use crate::programs::{self, command_as, service_user};
use crate::servers::{PgProcess, THROWAWAY};
use crate::wait::{Launch, on_free_port};

/// What a server needs beyond the harness defaults (trust for everyone, no TLS).
#[derive(Debug, Clone, Default)]
pub struct PgOptions {
    /// The whole `pg_hba.conf`, e.g. to require passwords or TLS. Keep a line that trusts
    /// `postgres` from `127.0.0.1` (over TLS if plaintext is refused): [`PgServer::psql`] uses it.
    pub hba: Option<String>,
    /// A PEM certificate (chain) and its private key: the server runs with `ssl=on`.
    pub tls: Option<(String, String)>,
}

/// A running PostgreSQL server with trust authentication for user `postgres`, stopped and
/// deleted on drop.
#[derive(Debug)]
pub struct PgServer {
    process: Option<Child>,
    port: u16,
    dir: TempDir,
    bin: PathBuf,
    run_as: Option<User>,
    settings: Vec<String>,
}

impl PgServer {
    /// Starts a server on a fresh copy of the template cluster.
    pub async fn start() -> Result<Self, HarnessError> {
        Self::start_with(PgOptions::default()).await
    }

    /// Starts a server with its own `pg_hba.conf` and/or TLS.
    pub async fn start_with(options: PgOptions) -> Result<Self, HarnessError> {
        let bin = programs::pg_bin_dir()?;
        let run_as = service_user()?;
        let template = template(&bin, run_as.as_ref())?;
        let dir = tempfile::Builder::new().prefix("natstack-pg-").tempdir()?;
        let data = dir.path().join("data");
        let status = Command::new("cp")
            .arg("-a")
            .arg(&template)
            .arg(&data)
            .status()?;
        if !status.success() {
            return Err(HarnessError::postgres(format!(
                "cannot copy the template cluster {}",
                template.display()
            )));
        }
        let mut files = Vec::new();
        let mut settings = Vec::new();
        if let Some(hba) = &options.hba {
            let path = dir.path().join("pg_hba.conf");
            std::fs::write(&path, hba)?;
            settings.push(format!("hba_file={}", path.display()));
            files.push(path);
        }
        if let Some((cert, key)) = &options.tls {
            let cert_path = dir.path().join("server.crt");
            let key_path = dir.path().join("server.key");
            std::fs::write(&cert_path, cert)?;
            std::fs::write(&key_path, key)?;
            // PostgreSQL refuses a key others may read.
            std::fs::set_permissions(
                &key_path,
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )?;
            settings.extend([
                "ssl=on".to_owned(),
                format!("ssl_cert_file={}", cert_path.display()),
                format!("ssl_key_file={}", key_path.display()),
            ]);
            files.extend([cert_path, key_path]);
        }
        if let Some(user) = &run_as {
            for path in std::iter::once(dir.path()).chain(files.iter().map(PathBuf::as_path)) {
                chown(path, Some(user.uid), Some(user.gid)).map_err(std::io::Error::from)?;
            }
        }
        let mut server = Self {
            process: None,
            port: 0,
            dir,
            bin,
            run_as,
            settings,
        };
        on_free_port(&mut server).await?;
        Ok(server)
    }

    async fn launch(&mut self) -> Result<(), HarnessError> {
        let mut settings: Vec<String> = THROWAWAY.iter().map(|s| (*s).to_owned()).collect();
        settings.extend(self.settings.iter().cloned());
        let server = PgProcess {
            bin: &self.bin,
            user: self.run_as.clone(),
            data: &self.dir.path().join("data"),
            socket_dir: self.dir.path(),
            port: self.port,
            settings,
        };
        self.process = Some(server.start(&self.dir.path().join("postgres.log")).await?);
        Ok(())
    }

    /// The directory holding `psql` and `pg_isready` (Debian keeps them beside the server).
    pub fn client_bin_dir(&self) -> Result<PathBuf, HarnessError> {
        let psql = programs::pg_client(&self.bin, "psql")?;
        Ok(psql.parent().map(Path::to_path_buf).unwrap_or_default())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The postmaster's process id, while it runs (its backends are its children).
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Child::pid)
    }

    /// The URL of database `database`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates database `name` (lowercase letters, digits, `_`) and returns its URL.
    pub async fn create_database(&self, name: &str) -> Result<String, HarnessError> {
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "database name {name:?} must be lowercase letters, digits or _"
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"))
            .await?;
        Ok(self.url(name))
    }

    /// Runs one SQL statement in `database` with `psql`.
    pub async fn psql(&self, database: &str, sql: &str) -> Result<String, HarnessError> {
        let psql = programs::pg_client(&self.bin, "psql")?;
        let output = tokio::process::Command::new(psql)
            .args([
                "-X",
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ])
            .output()
            .await?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        } else {
            Err(HarnessError::postgres(format!(
                "psql `{sql}` failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )))
        }
    }

    /// Stops the server (fast shutdown), as an outage would; [`restart`](Self::restart)
    /// brings it back with its data.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.stop();
        }
    }

    /// Starts the server again on the same port, with the same data.
    pub async fn restart(&mut self) -> Result<(), HarnessError> {
        self.stop();
        self.launch().await
    }
}

/// PostgreSQL's "accepting connections" marker: line 8 of `postmaster.pid` reads `ready`.
pub(crate) fn is_ready(pid_file: &Path) -> bool {
    std::fs::read_to_string(pid_file)
        .map(|s| s.lines().nth(7).is_some_and(|l| l.trim() == "ready"))
        .unwrap_or(false)
}

/// The template cluster, created once per machine and PostgreSQL version.
fn template(bin: &Path, user: Option<&User>) -> Result<PathBuf, HarnessError> {
    let version = bin
        .parent()
        .and_then(|p| p.file_name())
        .map_or_else(|| "x".into(), |v| v.to_string_lossy().into_owned());
    let uid = Uid::effective();
    let root = std::env::temp_dir().join(format!("natstack-pg-template-{version}-u{uid}"));
    let cluster = root.join("data");
    if cluster.join("PG_VERSION").is_file() {
        return Ok(cluster);
    }
    std::fs::create_dir_all(&root)?;
    // Build in a private directory and rename into place, so concurrent test processes
    // never see a half-made template.
    let staging = tempfile::Builder::new()
        .prefix("staging-")
        .tempdir_in(&root)?;
    if let Some(user) = user {
        chown(staging.path(), Some(user.uid), Some(user.gid)).map_err(std::io::Error::from)?;
    }
    let data = staging.path().join("data");
    let output = command_as(&bin.join("initdb"), user)
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
        .args(["--no-sync", "--no-instructions"])
        .output()?;
    if !output.status.success() {
        return Err(HarnessError::postgres(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    if std::fs::rename(&data, &cluster).is_err() && !cluster.join("PG_VERSION").is_file() {
        return Err(HarnessError::postgres(format!(
            "cannot move the template cluster into {}",
            cluster.display()
        )));
    }
    Ok(cluster)
}

impl Launch for PgServer {
    async fn launch_on(&mut self, port: u16) -> Result<(), HarnessError> {
        // Kept: a restart binds the same port.
        self.port = port;
        self.launch().await
    }
}
