//! Logging setup: `RUST_LOG` filter, JSON or pretty output.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; `json` selects one JSON object per line.
pub fn init(json: bool) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,kube=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
