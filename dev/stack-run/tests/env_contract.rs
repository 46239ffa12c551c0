//! The deployment contract, checked end to end: every env var the operator renders for a
//! project container is one its binary reads (as `--help` lists it), and every variable the
//! binary requires is rendered. A typo on either side, or a new required flag the operator does
//! not know about, fails here instead of in a cluster.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{PROJECT_BINARIES, bin_dir, workspace};

use operator::manifests::Child;
use operator::render::{self, Values};
use stack_run::program::repository_name;

/// The env vars a binary reads, and those among them it requires, from its `--help`.
fn reads(binary: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let output = std::process::Command::new(binary)
        .arg("--help")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    assert!(
        output.status.success(),
        "{} --help failed",
        binary.display()
    );
    let help = String::from_utf8_lossy(&output.stdout);
    let mut all: BTreeSet<String> = help
        .split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split(['=', ']']).next())
        .map(str::to_owned)
        .collect();
    // The log filter is read by `runtime::telemetry` itself (tracing's env filter), not a flag.
    all.insert(contract::deploy::env::RUST_LOG.to_owned());
    // clap lists required options in the usage line: `--database-url <DATABASE_URL>`.
    let usage = help
        .lines()
        .find(|l| l.starts_with("Usage:"))
        .unwrap_or_default();
    let required = usage
        .split('<')
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
        .filter(|name| all.contains(*name))
        .map(str::to_owned)
        .collect();
    (all, required)
}

fn stacks() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let fixtures = ["minimal", "nats-cluster", "no-auth", "three-services"]
        .map(|f| workspace().join(format!("operator/tests/fixtures/{f}.yaml")));
    let examples = std::fs::read_dir(workspace().join("examples"))
        .expect("examples")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"));
    for path in examples.chain(fixtures) {
        out.push((
            path.display().to_string(),
            std::fs::read_to_string(&path).expect("read"),
        ));
    }
    out.push((
        "custom service".into(),
        "apiVersion: natstack.dev/v1alpha1\nkind: MicroserviceStack\nmetadata:\n  name: c\nspec:\n  \
         services:\n    - name: greeter\n      image: example.com/greeter:1\n      env:\n        \
         EXTRA_SETTING: x\n"
            .into(),
    ));
    out
}

#[test]
fn rendered_env_matches_what_each_binary_reads() {
    let bins = bin_dir();
    let mut checked = BTreeSet::new();
    for (name, yaml) in stacks() {
        let input = render::parse(&yaml, Some("ns")).unwrap_or_else(|e| panic!("{name}: {e}"));
        let rendered =
            render::render(&input, Values::Placeholders).unwrap_or_else(|e| panic!("{name}: {e}"));
        for child in rendered.children.iter() {
            let Child::Deployment(deployment) = child else {
                continue;
            };
            let pod = deployment
                .spec
                .as_ref()
                .and_then(|s| s.template.spec.as_ref())
                .expect("pod spec");
            for container in &pod.containers {
                let image = container.image.clone().unwrap_or_default();
                let binary = repository_name(&image);
                // Fixture services such as `echo` name images this project does not build.
                if !PROJECT_BINARIES.contains(&binary) {
                    continue;
                }
                let (read, required) = reads(&bins.join(binary));
                let user_extras: BTreeSet<String> = rendered
                    .stack
                    .spec
                    .services
                    .iter()
                    .find(|s| s.name == container.name)
                    .map(|s| s.env.keys().cloned().collect())
                    .unwrap_or_default();
                let rendered_env: BTreeSet<String> = container
                    .env
                    .iter()
                    .flatten()
                    .map(|e| e.name.clone())
                    .filter(|n| !user_extras.contains(n))
                    .collect();
                // The pod's name and namespace (downward API) are rendered only to be
                // expanded into OTEL_RESOURCE_ATTRIBUTES (`$(POD_NAME)`).
                let expanded_only = [
                    contract::deploy::env::operator::POD_NAME.to_owned(),
                    contract::deploy::env::operator::POD_NAMESPACE.to_owned(),
                ];
                let unread: Vec<&String> = rendered_env
                    .difference(&read)
                    .filter(|n| !expanded_only.contains(n))
                    .collect();
                assert!(
                    unread.is_empty(),
                    "{name}: {} renders {unread:?}, which {binary} does not read",
                    child.name()
                );
                let missing: Vec<&String> = required.difference(&rendered_env).collect();
                assert!(
                    missing.is_empty(),
                    "{name}: {} does not render {missing:?}, which {binary} requires",
                    child.name()
                );
                checked.insert(binary.to_owned());
            }
        }
    }
    assert_eq!(
        checked,
        PROJECT_BINARIES.iter().map(|b| (*b).to_owned()).collect(),
        "every project binary was checked"
    );
}

#[test]
fn the_help_parser_sees_required_variables() {
    let (read, required) = reads(&bin_dir().join("customers"));
    assert!(
        read.contains("NATS_URL") && read.contains("HEALTH_ADDR"),
        "{read:?}"
    );
    assert!(required.contains("DATABASE_URL"), "{required:?}");
}
