//! Writes every object the builders produce for every fixture stack and the created-once Secrets
//! as JSON files (JSON is YAML without YAML 1.1's `on`/`yes` booleans), plus the CRD as YAML, for `operator/scripts/validate-manifests.sh` to check against the
//! Kubernetes OpenAPI schemas.
//!
//! The directory is `$NATSTACK_MANIFEST_DIR`, or a fresh one under the system temp dir.

mod common;

use std::path::PathBuf;

use operator::manifests::common::Ctx;
use operator::manifests::secrets;

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("json")
}

#[test]
fn write_every_generated_object() {
    let keep = std::env::var_os("NATSTACK_MANIFEST_DIR");
    let dir = keep.clone().map_or_else(
        || std::env::temp_dir().join(format!("natstack-manifests-{}", std::process::id())),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("create output dir");
    let mut written = 0;
    let mut write = |file: String, yaml: String| {
        std::fs::write(dir.join(file), yaml).expect("write manifest");
        written += 1;
    };
    write("crd-microservicestacks.yaml".into(), operator::crd_yaml());
    let fixtures = common::VALID
        .iter()
        .map(|f| ((*f).to_owned(), common::load(f)));
    for (fixture, stack) in fixtures.chain(common::examples()) {
        for child in common::build(&stack).iter() {
            write(
                format!(
                    "{fixture}--{}-{}.json",
                    child.kind().to_lowercase(),
                    child.name()
                ),
                json(&child.to_value()),
            );
        }
        let ctx = Ctx::new(&stack).expect("ctx");
        for generated in secrets::generated(&ctx) {
            let (secret, _) = operator::generate::secret(&generated).expect("generate");
            write(
                format!("{fixture}--secret-{}.json", generated.name()),
                json(&secret),
            );
        }
    }
    let files = std::fs::read_dir(&dir).expect("read dir").count();
    if keep.is_none() {
        std::fs::remove_dir_all(&dir).expect("remove temporary output");
    }
    assert!(
        written > 100 && files >= written,
        "wrote {written} manifests into {}",
        dir.display()
    );
}
