//! No service name, however chosen, makes two children collide: every name the stack's own
//! children use (`nats-headless`, `gateway-health`, `<service>-db-init`, …) is either refused,
//! by the CRD's rules and by validation alike, or yields objects with names and pod labels of
//! their own.

use std::collections::{BTreeMap, BTreeSet};

use kube::core::cel::validate_cel;
use operator::crd::{DatabaseKind, ServiceSpec};

use crate::common;

/// `(kind, name)` of every child.
type Names = Vec<(String, String)>;
/// The pod labels of every workload's template, by `kind/name`.
type PodLabels = Vec<(String, BTreeMap<String, String>)>;

/// The children's names and pod labels.
fn children(stack: &operator::crd::MicroserviceStack) -> (Names, PodLabels) {
    let built = common::build(stack);
    let names = built
        .iter()
        .map(|c| (c.kind().to_owned(), c.name().to_owned()))
        .collect();
    let pods = built
        .iter()
        .filter_map(|c| {
            let labels = c.pod_template()?.metadata.as_ref()?.labels.clone()?;
            Some((format!("{}/{}", c.kind(), c.name()), labels))
        })
        .collect();
    (names, pods)
}

/// What the CRD's `name` pattern admits: `^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$`.
fn schema_name(name: &str) -> bool {
    let b = name.as_bytes();
    (1..=20).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !name.ends_with('-')
}

#[test]
fn a_service_named_like_another_child_is_refused_or_collides_with_nothing() {
    for fixture in ["minimal", "nats-cluster"] {
        let base = common::load(fixture);
        let stack_name = base.metadata.name.clone().unwrap();
        let (names, _) = children(&base);
        // Every suffix of a child's name after `<stack>-`, whole or from any `-` on, as a
        // service name would produce it.
        let mut candidates = BTreeSet::new();
        for (_, name) in &names {
            let Some(suffix) = name.strip_prefix(&format!("{stack_name}-")) else {
                continue;
            };
            let parts: Vec<&str> = suffix.split('-').collect();
            for start in 0..parts.len() {
                for end in start + 1..=parts.len() {
                    candidates.insert(parts[start..end].join("-"));
                }
            }
        }
        for candidate in candidates {
            let mut stack = base.clone();
            // Names the schema's own pattern refuses never reach the rules.
            if stack.spec.services.iter().any(|s| s.name == candidate) || !schema_name(&candidate) {
                continue;
            }
            stack
                .spec
                .services
                .push(ServiceSpec::new(&candidate, DatabaseKind::Postgres));
            let problems = operator::validate::problems(&stack);
            let cel = validate_cel(&stack);
            assert_eq!(
                problems.is_empty(),
                cel.is_ok(),
                "{fixture}: the CRD rules and validation disagree on {candidate:?}: {problems:?} / {cel:?}"
            );
            if !problems.is_empty() {
                continue;
            }
            let (names, pods) = children(&stack);
            let mut seen = BTreeSet::new();
            for name in &names {
                assert!(
                    seen.insert(name),
                    "{fixture}: service {candidate:?} yields a second {name:?}"
                );
            }
            for (i, (a, labels_a)) in pods.iter().enumerate() {
                for (b, labels_b) in &pods[i + 1..] {
                    assert_ne!(
                        labels_a, labels_b,
                        "{fixture}: service {candidate:?}: {a} and {b} share their pod labels"
                    );
                }
            }
        }
    }
}
