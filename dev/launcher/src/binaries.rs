//! Finding the project's built binaries.

use std::path::{Path, PathBuf};

use contract::deploy;

use crate::error::LaunchError;

/// The binaries every system runs.
pub const SYSTEM_BINARIES: [&str; 4] = [
    deploy::GATEWAY,
    deploy::AUTH,
    deploy::CUSTOMERS,
    deploy::PRODUCTS,
];

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Fails with [`LaunchError::NotBuilt`], naming `hint`, unless every one of `names` is in `dir`.
pub fn check(dir: &Path, names: &[&str], hint: &str) -> Result<(), LaunchError> {
    match names.iter().map(|n| dir.join(n)).find(|p| !p.is_file()) {
        Some(path) => Err(LaunchError::NotBuilt {
            path,
            hint: hint.to_owned(),
        }),
        None => Ok(()),
    }
}

/// The directory of the running executable (where `cargo build` puts its sibling binaries).
pub fn beside_current_exe() -> Result<PathBuf, LaunchError> {
    let this = std::env::current_exe().map_err(LaunchError::io("cannot find this executable"))?;
    Ok(this.parent().map(Path::to_path_buf).unwrap_or_default())
}

/// The debug binaries of the workspace, for tests: `cargo nextest run --workspace` (make test)
/// has just built them. Building them from a test would resolve features differently from the
/// test build and recompile half the dependency tree, so a missing binary is a panic naming
/// the command.
///
/// # Panics
/// When one of `names` has not been built.
pub fn debug_dir(names: &[&str]) -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
        .join("debug");
    if let Err(e) = check(
        &dir,
        names,
        "run `cargo build --workspace --bins`; make test does",
    ) {
        panic!("{e}");
    }
    dir
}
