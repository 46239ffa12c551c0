//! Finding the server programs the test bed runs, and running PostgreSQL's as its own user.

use std::path::{Path, PathBuf};

use std::process::Command;

use nix::unistd::{Uid, User};

use crate::HarnessError;

/// The workspace root (where `.venv/` lives).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// Finds `name`: `$env_var`, then `.venv/bin/<name>`, then `PATH`.
pub fn find(name: &str, env_var: &str, install_hint: &str) -> Result<PathBuf, HarnessError> {
    if let Some(path) = std::env::var_os(env_var).map(PathBuf::from) {
        return if path.is_file() {
            Ok(path)
        } else {
            Err(HarnessError::ToolMissing {
                tool: name.to_owned(),
                hint: format!("{env_var}={} is not a file", path.display()),
            })
        };
    }
    let venv = workspace_root().join(".venv/bin").join(name);
    if venv.is_file() {
        return Ok(venv);
    }
    on_path(name).ok_or_else(|| HarnessError::ToolMissing {
        tool: name.to_owned(),
        hint: format!("{install_hint}, or set {env_var} to its path"),
    })
}

/// The directory holding PostgreSQL's server programs (`initdb`, `postgres`).
pub fn pg_bin_dir() -> Result<PathBuf, HarnessError> {
    let missing = |hint: String| HarnessError::ToolMissing {
        tool: "PostgreSQL server (initdb, postgres)".to_owned(),
        hint,
    };
    if let Some(dir) = std::env::var_os(contract::deploy::env::dev::PG_BIN_DIR).map(PathBuf::from) {
        return if dir.join("initdb").is_file() {
            Ok(dir)
        } else {
            Err(missing(format!(
                "PG_BIN_DIR={} has no initdb",
                dir.display()
            )))
        };
    }
    // Debian keeps the server programs out of PATH, one directory per major version.
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
    });
    if let Some(newest) = versions.pop() {
        return Ok(newest);
    }
    on_path("initdb")
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .filter(|dir| dir.join("postgres").is_file())
        .ok_or_else(|| {
            missing("run `make setup` (installs Debian's `postgresql`), or set PG_BIN_DIR".into())
        })
}

/// Finds a PostgreSQL client program (`psql`) next to the server or on `PATH`.
pub(crate) fn pg_client(bin_dir: &Path, name: &str) -> Result<PathBuf, HarnessError> {
    let beside = bin_dir.join(name);
    if beside.is_file() {
        return Ok(beside);
    }
    on_path(name).ok_or_else(|| HarnessError::ToolMissing {
        tool: name.to_owned(),
        hint: "run `make setup` (installs Debian's `postgresql-client`)".into(),
    })
}

/// The user to run PostgreSQL's programs as: `None` for the current user, `postgres` under root.
///
/// # Errors
/// [`HarnessError::ToolMissing`] under root when the `postgres` system user does not exist.
pub fn service_user() -> Result<Option<User>, HarnessError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    match User::from_name("postgres").map_err(std::io::Error::from)? {
        Some(user) => Ok(Some(user)),
        None => Err(HarnessError::ToolMissing {
            tool: "the `postgres` system user".into(),
            hint: "PostgreSQL cannot run as root; run `make setup` (Debian's `postgresql` \
                   package creates the user) or run the tests as a normal user"
                .into(),
        }),
    }
}

/// A command running `program` as `user` (`None`: the current user) through `setpriv`.
pub fn command_as(program: &Path, user: Option<&User>) -> Command {
    match user {
        None => Command::new(program),
        Some(user) => {
            // setpriv execs the program directly, so signals reach the server itself.
            let mut command = Command::new("setpriv");
            command
                .arg(format!("--reuid={}", user.uid))
                .arg(format!("--regid={}", user.gid))
                .arg("--init-groups")
                .arg("--")
                .arg(program);
            command
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_says_what_to_install() {
        let err = find(
            "natstack-no-such-server",
            "NATSTACK_TEST_UNSET_VARIABLE",
            "run `make setup` (installs the no-such package)",
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("natstack-no-such-server not found"),
            "{message}"
        );
        assert!(message.contains("make setup"), "{message}");
        assert!(
            message.contains("NATSTACK_TEST_UNSET_VARIABLE"),
            "{message}"
        );
    }
}
