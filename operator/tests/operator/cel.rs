//! The CRD's own CEL rules, evaluated client-side: valid fixtures pass, invalid ones fail, and
//! the reconciler's validation agrees with them.

use crate::common;
use kube::core::cel::{ValidationErrors, validate_cel, validate_cel_update};

/// Asserts that the CRD's rules refused `case` (their `verdict` on it) with an error that
/// says `expected`.
#[track_caller]
fn assert_refused(case: &str, verdict: Result<(), ValidationErrors>, expected: &str) {
    let errors = format!("{:?}", verdict.expect_err(case));
    assert!(
        errors.contains(expected),
        "{case}: {expected:?} missing from {errors}"
    );
}

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
        if common::INVALID_NAMES.contains(&name) {
            assert!(
                name_rules_reject(&stack).is_err(),
                "{name} passed the metadata.name rules"
            );
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

/// The CRD's root rules evaluated against the object's `metadata.name`. `validate_cel` leaves
/// them out (the generated schema has no `metadata` properties; the apiserver supplies them),
/// so the test gives the schema the `metadata.name` the apiserver knows.
fn name_rules_reject(stack: &operator::crd::MicroserviceStack) -> Result<(), ValidationErrors> {
    use kube::CustomResourceExt as _;
    let crd = serde_json::to_value(operator::crd::MicroserviceStack::crd()).unwrap();
    let root = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"metadata": {"type": "object", "properties": {"name": {"type": "string"}}}},
        "x-kubernetes-validations": root["x-kubernetes-validations"],
    });
    let object = serde_json::json!({"metadata": {"name": stack.metadata.name}});
    kube::core::cel::Validator::new().validate(&schema, &object, None)
}

#[test]
fn stack_names_must_be_short_dns_labels() {
    for name in ["demo", "shop-2", "a", "x-y-z"] {
        let mut stack = common::load("minimal");
        stack.metadata.name = Some(name.into());
        assert!(name_rules_reject(&stack).is_ok(), "{name}");
        assert!(operator::validate::problems(&stack).is_empty(), "{name}");
    }
    for name in ["my.stack", "1demo", "Demo", "demo-", "-demo", "my_stack"] {
        let mut stack = common::load("minimal");
        stack.metadata.name = Some(name.into());
        assert_refused(name, name_rules_reject(&stack), "DNS-1035");
        assert!(
            operator::validate::problems(&stack)
                .iter()
                .any(|p| p.contains("DNS-1035")),
            "{name}"
        );
    }
    let mut long = common::load("minimal");
    long.metadata.name = Some("a".repeat(31));
    assert!(format!("{:?}", name_rules_reject(&long)).contains("at most 30"));
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
        ("invalid/rate-limits", "rateLimits must be"),
        ("invalid/trusted-proxies", "trustedProxies entries must be"),
        (
            "invalid/sampling",
            "telemetry.sampling must be between 0 and 1",
        ),
        (
            "invalid/monitoring-labels",
            "monitoring labels cannot replace the labels the operator sets",
        ),
        ("invalid/monitoring-interval", "monitoring.interval must be"),
    ];
    for (name, expected) in cases {
        assert_refused(name, validate_cel(&common::load(name)), expected);
    }
}

#[test]
fn volumes_only_grow_and_keep_their_class() {
    let old = common::load("minimal");
    let mut grown = old.clone();
    grown.spec.postgres.storage = "5Gi".into();
    assert!(validate_cel_update(&grown, &old).is_ok());
    // Units are compared as quantities, not strings.
    let mut same = old.clone();
    same.spec.postgres.storage = "1024Mi".into();
    assert!(validate_cel_update(&same, &old).is_ok());
    for smaller in ["512Mi", "0.5Gi", "1G"] {
        let mut shrunk = old.clone();
        shrunk.spec.postgres.storage = smaller.into();
        assert_refused(
            &format!("shrinking to {smaller}"),
            validate_cel_update(&shrunk, &old),
            "storage can only grow",
        );
    }
    // Setting or unsetting it is a change too (a rule on the optional field itself would not
    // run: the API server skips transition rules where the old or new value is absent).
    let mut classed = old.clone();
    classed.spec.postgres.storage_class_name = Some("fast".into());
    for (new, old) in [(&classed, &old), (&old, &classed)] {
        assert_refused(
            "storageClassName is immutable",
            validate_cel_update(new, old),
            "storageClassName cannot be added or removed",
        );
    }
    let mut reclassed = classed.clone();
    reclassed.spec.postgres.storage_class_name = Some("slow".into());
    assert!(validate_cel_update(&reclassed, &classed).is_err());
    let mut scaled = old.clone();
    scaled.spec.gateway.replicas = 4;
    assert!(validate_cel_update(&scaled, &old).is_ok());
}

#[test]
fn events_retention_bytes_are_fixed_and_its_age_is_not() {
    let old = common::load("minimal");
    let mut grown = old.clone();
    grown.spec.events.retention.max_bytes = "2Gi".into();
    assert_refused(
        "maxBytes sizes the volumes",
        validate_cel_update(&grown, &old),
        "maxBytes cannot change",
    );
    let mut aged = old.clone();
    aged.spec.events.retention.max_age = "30d".into();
    assert!(validate_cel_update(&aged, &old).is_ok());
    assert!(validate_cel(&aged).is_ok());
    let mut bad = old;
    bad.spec.events.retention.max_age = "7 days".into();
    assert_refused("maxAge is checked", validate_cel(&bad), "maxAge must be");
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

/// The stack `minimal` with gateway settings changed by `edit`: (CEL passes, validation passes).
fn gateway_verdicts(edit: impl FnOnce(&mut operator::crd::GatewaySpec)) -> (bool, Vec<String>) {
    let mut stack = common::load("minimal");
    edit(&mut stack.spec.gateway);
    (
        validate_cel(&stack).is_ok(),
        operator::validate::problems(&stack),
    )
}

/// Asserts that the CEL rule and validation both refuse the gateway `value` that `edit` sets,
/// validation with a problem that starts with `field`.
#[track_caller]
fn assert_both_refuse(
    value: &str,
    field: &str,
    edit: impl FnOnce(&mut operator::crd::GatewaySpec),
) {
    let (cel, problems) = gateway_verdicts(edit);
    assert!(!cel, "{value:?} passed the CEL rule");
    assert!(
        problems.iter().any(|p| p.starts_with(field)),
        "{value:?}: {problems:?}"
    );
}

#[test]
fn rate_limits_rule_and_validation_agree_with_the_gateway_syntax() {
    let valid = [
        contract::deploy::DEFAULT_RATE_LIMITS,
        "off",
        "OFF",
        "",
        " auth=10/s:burst 20 , write=30/m ,read=off",
        "read=3600/h",
        "auth=1/s:burst5,",
        "write=OFF",
    ];
    for value in valid {
        assert!(
            contract::limits::RateLimits::parse(value).is_ok(),
            "{value:?}: the gateway refuses it, so the case is wrong"
        );
        let (cel, problems) = gateway_verdicts(|g| g.rate_limits = value.into());
        assert!(cel, "{value:?} failed the CEL rule");
        assert!(problems.is_empty(), "{value:?}: {problems:?}");
    }
    let invalid = [
        "read=1/s;write=2/s",
        "write=0/m",
        "auth=1/day",
        "write",
        "read=1/s:burst",
        "auth=1/s:burst=2",
        "all=1/s",
    ];
    for value in invalid {
        assert_both_refuse(value, "gateway rateLimits:", |g| {
            g.rate_limits = value.into();
        });
    }
    // Beyond what the rule checks cheaply: the count does not fit the gateway's u32.
    let (_, problems) = gateway_verdicts(|g| g.rate_limits = "auth=99999999999/s".into());
    assert!(
        problems.iter().any(|p| p.contains("auth=99999999999/s")),
        "{problems:?}"
    );
}

#[test]
fn trusted_proxies_rule_and_validation_agree_with_the_gateway_syntax() {
    let valid = [
        "10.244.0.0/16",
        "127.0.0.1",
        "::1",
        "fd00::/8",
        " 10.0.0.1 ",
    ];
    let (cel, problems) =
        gateway_verdicts(|g| g.trusted_proxies = valid.map(String::from).to_vec());
    assert!(cel && problems.is_empty(), "{problems:?}");
    for value in ["ingress.local", "10.0.0.0/8,10.1.0.0/16", "", "10.0.0.0/x"] {
        assert_both_refuse(value, "gateway trustedProxies:", |g| {
            g.trusted_proxies = vec![value.into()];
        });
    }
    // Beyond what the rule checks cheaply: an IPv4 prefix longer than 32 bits.
    let (_, problems) = gateway_verdicts(|g| g.trusted_proxies = vec!["10.0.0.0/33".into()]);
    assert!(
        problems.iter().any(|p| p.contains("10.0.0.0/33")),
        "{problems:?}"
    );
}

#[test]
fn route_prefixes_are_paths_and_never_overlap_between_services() {
    let with_prefixes = |prefixes: &[&str]| {
        let mut stack = common::load("minimal");
        let mut orders =
            operator::crd::ServiceSpec::new("orders", operator::crd::DatabaseKind::None);
        orders.route_prefixes = prefixes.iter().map(|p| (*p).to_owned()).collect();
        stack.spec.services.push(orders);
        stack
    };
    let fine = with_prefixes(&["/orders", "/baskets/open"]);
    assert!(
        validate_cel(&fine).is_ok(),
        "{:?}",
        validate_cel(&fine).err()
    );
    assert!(operator::validate::problems(&fine).is_empty());
    let owners = operator::validate::route_owners(&fine.spec).unwrap();
    assert_eq!(owners.owner_of("/baskets/open/7"), Some("orders"));
    assert_eq!(owners.owner_of("/auth/login"), Some("auth"));

    // Not a literal path: refused by the schema and by validation alike.
    for bad in ["orders", "/orders/{id}", "/", "/a//b"] {
        let stack = with_prefixes(&[bad]);
        assert!(validate_cel(&stack).is_err(), "{bad} passed the schema");
        assert!(
            operator::validate::problems(&stack)
                .iter()
                .any(|p| p.contains("routePrefixes")),
            "{bad}"
        );
    }
    // Overlapping another service's prefix (a default one included): refused by validation,
    // which reports the stack Degraded, and the gateway is never rendered with it.
    for bad in ["/auth/orders", "/categories", "/"] {
        let stack = with_prefixes(&[bad]);
        let problems = operator::validate::problems(&stack);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("overlaps") || p.contains("is not a path")),
            "{bad}: {problems:?}"
        );
    }
    let overlapping = with_prefixes(&["/auth/orders"]);
    let error = operator::manifests::build(&overlapping, &common::secret_data(&overlapping)).err();
    assert!(format!("{error:?}").contains("overlaps"), "{error:?}");
}

#[test]
fn sampling_accepts_whole_numbers_and_ratios_within_bounds() {
    for (sampling, valid) in [
        (serde_json::json!(0), true),
        (serde_json::json!(1), true),
        (serde_json::json!(0.5), true),
        (serde_json::json!(2), false),
        (serde_json::json!(-0.5), false),
    ] {
        let mut raw = common::raw("minimal");
        raw["spec"]["telemetry"] = serde_json::json!({"sampling": sampling});
        let stack: operator::crd::MicroserviceStack = serde_json::from_value(raw).unwrap();
        assert_eq!(validate_cel(&stack).is_ok(), valid, "sampling {sampling}");
        assert_eq!(
            operator::validate::problems(&stack).is_empty(),
            valid,
            "sampling {sampling}"
        );
    }
}

#[test]
fn a_provider_cannot_change_after_creation() {
    let old = common::load("minimal");
    let mut moved = old.clone();
    moved.spec.postgres.provider = operator::crd::DatabaseProvider::Cnpg;
    assert_refused(
        "provider is fixed",
        validate_cel_update(&moved, &old),
        "provider cannot change after creation",
    );
    let engines = common::load("engines");
    let mut back = engines.clone();
    back.spec.mongodb.provider = operator::crd::DatabaseProvider::Managed;
    assert!(validate_cel_update(&back, &engines).is_err());
    let mut grown = engines.clone();
    grown.spec.postgres.instances = Some(5);
    grown.spec.mongodb.members = Some(5);
    assert!(validate_cel_update(&grown, &engines).is_ok());
}

/// An edit of a stack's spec.
type SpecEdit = fn(&mut operator::crd::MicroserviceStackSpec);

#[test]
fn provider_settings_belong_to_their_database_and_provider() {
    use operator::crd::DatabaseProvider;
    let cases: [(&str, SpecEdit); 7] = [
        ("maxConnections is a PostgreSQL setting", |s| {
            s.mongodb.max_connections = Some(50);
        }),
        ("postgres.provider must be managed or cnpg", |s| {
            s.postgres.provider = DatabaseProvider::CommunityOperator;
        }),
        (
            "mongodb.provider must be managed or community-operator",
            |s| {
                s.mongodb.provider = DatabaseProvider::Cnpg;
            },
        ),
        ("existingSecret names an external server", |s| {
            s.mongodb.provider = DatabaseProvider::CommunityOperator;
            s.mongodb.existing_secret = Some("external".into());
        }),
        ("they need provider cnpg", |s| {
            s.postgres.instances = Some(3);
        }),
        ("they need provider cnpg", |s| {
            s.mongodb.provider = DatabaseProvider::CommunityOperator;
            s.mongodb.backup = common::load("engines").spec.postgres.backup;
        }),
        ("it needs provider community-operator", |s| {
            s.postgres.provider = DatabaseProvider::Cnpg;
            s.postgres.members = Some(3);
        }),
    ];
    for (message, edit) in cases {
        let mut stack = common::load("minimal");
        edit(&mut stack.spec);
        assert_refused(message, validate_cel(&stack), message);
        let problems = operator::validate::problems(&stack);
        assert!(
            problems.iter().any(|p| p.contains(message)),
            "{message}: {problems:?}"
        );
    }
}
