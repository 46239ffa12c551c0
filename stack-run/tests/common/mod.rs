//! What the stack-run tests share: the workspace root and the project's built binaries.

use std::path::{Path, PathBuf};

/// The project's binaries the rendered stacks run.
pub const PROJECT_BINARIES: [&str; 5] = ["gateway", "auth", "customers", "products", "greeter"];

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The directory of the project's binaries: `make test` (`cargo nextest run --workspace`) has
/// just built them. Building them here would resolve features differently from the test build
/// and recompile half the dependency tree, so a missing binary is an error with the command.
pub fn bin_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace().join("target"), PathBuf::from)
        .join("debug");
    for bin in PROJECT_BINARIES {
        assert!(
            dir.join(bin).is_file(),
            "no {bin} binary in {}: run `cargo build --workspace --bins` (make test does)",
            dir.display()
        );
    }
    dir
}
