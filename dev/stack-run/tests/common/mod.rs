//! What the stack-run tests share: the workspace root and the project's built binaries.

use std::path::PathBuf;

/// The project's binaries the rendered stacks run.
pub const PROJECT_BINARIES: [&str; 5] = ["gateway", "auth", "customers", "products", "greeter"];

/// The workspace root.
pub fn workspace() -> PathBuf {
    launcher::binaries::workspace_root()
}

/// The directory of the project's binaries (see [`launcher::binaries::debug_dir`]).
pub fn bin_dir() -> PathBuf {
    launcher::binaries::debug_dir(&PROJECT_BINARIES)
}
