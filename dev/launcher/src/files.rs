//! The system's data on disk is its owner's only: directories `0700`, files `0600`.
//!
//! One exception: under root, PostgreSQL runs as the `postgres` user and must pass through
//! the data directory to its own `pg/` inside, so that one directory is `0711` (others may
//! enter a path they know, never list or read what is there).

use std::fs::{OpenOptions, Permissions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use testbed::programs::service_user;

use crate::error::LaunchError;

/// Creates `dir` when missing and makes it `mode`, whatever it was before.
fn dir_with_mode(dir: &Path, mode: u32) -> Result<(), LaunchError> {
    std::fs::create_dir_all(dir)
        .map_err(LaunchError::io(format!("cannot create {}", dir.display())))?;
    std::fs::set_permissions(dir, Permissions::from_mode(mode)).map_err(LaunchError::io(format!(
        "cannot restrict {}",
        dir.display()
    )))
}

/// Creates `dir` (when missing) readable by its owner only (`0700`).
///
/// # Errors
/// It cannot be created or its mode set.
pub fn private_dir(dir: &Path) -> Result<(), LaunchError> {
    dir_with_mode(dir, 0o700)
}

/// Creates the data directory `dir`: `0700`, or `0711` when PostgreSQL runs as its own user
/// and must pass through it.
///
/// # Errors
/// It cannot be created or its mode set, or the PostgreSQL user is missing under root.
pub fn data_dir(dir: &Path) -> Result<(), LaunchError> {
    let mode = if service_user()?.is_some() {
        0o711
    } else {
        0o700
    };
    dir_with_mode(dir, mode)
}

/// Writes `contents` to the new file `path`, created `0600` (never readable by others, not
/// even for a moment).
///
/// # Errors
/// It exists already or cannot be written.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), LaunchError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(contents))
        .map_err(LaunchError::io(format!("cannot write {}", path.display())))
}

/// Makes the existing file `path` `0600` (files left by an earlier version).
///
/// # Errors
/// Its mode cannot be set.
pub fn restrict(path: &Path) -> Result<(), LaunchError> {
    std::fs::set_permissions(path, Permissions::from_mode(0o600)).map_err(LaunchError::io(format!(
        "cannot restrict {}",
        path.display()
    )))
}
