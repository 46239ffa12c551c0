//! Writes the `MicroserviceStack` CRD as YAML: to the path given as the first argument, or to
//! standard output.

use std::io::Write as _;

fn main() -> std::io::Result<()> {
    let yaml = operator::crd_yaml();
    match std::env::args().nth(1) {
        Some(path) => std::fs::write(path, yaml),
        None => std::io::stdout().write_all(yaml.as_bytes()),
    }
}
