//! What outlives one `stack-run`: the generated Secrets of a stack, kept beside its volumes as
//! a cluster keeps them in its API server, so a stack started again finds its databases'
//! passwords unchanged.

use std::path::{Path, PathBuf};

use operator::manifests::SecretData;
use operator::render::Rendered;

use crate::HarnessError;

/// The file holding the generated Secrets of the stack run from `root`.
#[must_use]
pub fn secrets_file(root: &Path) -> PathBuf {
    root.join("secrets.json")
}

/// The Secrets kept by an earlier run from `root` (none on a first run).
///
/// # Errors
/// When the file exists but cannot be read or parsed.
pub fn load(root: &Path) -> Result<SecretData, HarnessError> {
    let file = secrets_file(root);
    if !file.exists() {
        return Ok(SecretData::new());
    }
    let text = std::fs::read_to_string(&file)
        .map_err(HarnessError::io(format!("read {}", file.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| HarnessError::Reference(format!("{} is not valid: {e}", file.display())))
}

/// Keeps the generated Secrets of `rendered` in `root` (readable by the owner only).
///
/// # Errors
/// When the file cannot be written.
pub fn save(root: &Path, rendered: &Rendered) -> Result<(), HarnessError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;

    let data: SecretData = rendered
        .generated
        .iter()
        .map(|s| {
            (
                s.metadata.name.clone().unwrap_or_default(),
                operator::generate::decode(s),
            )
        })
        .collect();
    std::fs::create_dir_all(root)
        .map_err(HarnessError::io(format!("create {}", root.display())))?;
    let file = secrets_file(root);
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&file)
        .map_err(HarnessError::io(format!("write {}", file.display())))?;
    out.write_all(
        serde_json::to_string_pretty(&data)
            .unwrap_or_default()
            .as_bytes(),
    )
    .map_err(HarnessError::io(format!("write {}", file.display())))
}
