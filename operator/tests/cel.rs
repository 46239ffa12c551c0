//! The CRD's own CEL rules, evaluated client-side: valid fixtures pass, invalid ones fail, and
//! the reconciler's validation agrees with them.

mod common;

use kube::core::cel::validate_cel;

#[test]
fn valid_fixtures_pass_the_crd_rules() {
    for name in common::VALID {
        let stack = common::load(name);
        assert!(
            validate_cel(&stack).is_ok(),
            "{name}: {:?}",
            validate_cel(&stack).err()
        );
        assert!(operator::validate::problems(&stack).is_empty(), "{name}");
    }
}

#[test]
fn invalid_fixtures_are_rejected_by_the_crd_rules() {
    for name in common::INVALID {
        let stack = common::load(name);
        if name == "invalid/long-name" {
            // A rule on metadata.name is evaluated by the apiserver only; check it is declared.
            assert!(operator::crd_yaml().contains("size(self.metadata.name) <= 30"));
        } else {
            let result = validate_cel(&stack);
            assert!(result.is_err(), "{name} passed the CEL rules");
        }
        assert!(
            !operator::validate::problems(&stack).is_empty(),
            "{name} passed validation"
        );
    }
}

#[test]
fn cel_messages_name_the_broken_invariant() {
    let cases = [
        ("invalid/duplicate-names", "service names must be unique"),
        ("invalid/nats-replicas", "nats replicas must be 1 or 3"),
        (
            "invalid/database-disabled",
            "postgres is neither enabled nor external",
        ),
        ("invalid/node-port-cluster-ip", "nodePort needs serviceType"),
        ("invalid/reserved-name", "reserved"),
    ];
    for (name, expected) in cases {
        let errors = validate_cel(&common::load(name)).expect_err(name);
        let text = format!("{errors:?}");
        assert!(text.contains(expected), "{name}: {text}");
    }
}

#[test]
fn volume_settings_are_immutable() {
    let old = common::load("minimal");
    let mut resized = old.clone();
    resized.spec.postgres.storage = "5Gi".into();
    let errors =
        kube::core::cel::validate_cel_update(&resized, &old).expect_err("storage is immutable");
    assert!(
        format!("{errors:?}").contains("storage cannot change"),
        "{errors:?}"
    );
    let mut scaled = old.clone();
    scaled.spec.gateway.replicas = 4;
    assert!(kube::core::cel::validate_cel_update(&scaled, &old).is_ok());
}

#[test]
fn examples_are_valid_stacks() {
    let examples = common::examples();
    assert!(
        !examples.is_empty(),
        "examples/*.yaml holds no MicroserviceStack"
    );
    for (name, stack) in &examples {
        assert!(
            validate_cel(stack).is_ok(),
            "{name}: {:?}",
            validate_cel(stack).err()
        );
        assert!(operator::validate::problems(stack).is_empty(), "{name}");
        assert!(common::build(stack).iter().count() > 5, "{name}");
    }
}
