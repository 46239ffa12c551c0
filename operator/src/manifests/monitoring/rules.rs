//! The stack's `PrometheusRule`: the alert rules of `monitoring/rules/stack.rules.yaml`, with
//! the stack's namespace and name put in for the file's placeholders (named in
//! `contract::deploy`, which the observability test reads too).

use contract::deploy::{
    RULES_NAMESPACE_PLACEHOLDER as NAMESPACE_PLACEHOLDER,
    RULES_STACK_PLACEHOLDER as STACK_PLACEHOLDER,
};

use super::kinds::PrometheusRuleSpec;
use crate::error::Error;

/// The rule file, embedded at build time (the one source of the stack's alerts).
pub const STACK_RULES: &str = include_str!("../../../../monitoring/rules/stack.rules.yaml");

/// The rule groups of the stack `name` in `namespace`.
///
/// # Errors
/// [`Error::EmbeddedFile`] when the embedded rule file does not parse as rule groups (a unit
/// test parses it, so a release never carries one).
pub fn spec(namespace: &str, name: &str) -> Result<PrometheusRuleSpec, Error> {
    let text = STACK_RULES
        .replace(NAMESPACE_PLACEHOLDER, namespace)
        .replace(STACK_PLACEHOLDER, name);
    serde_saphyr::from_str(&text).map_err(|e| Error::EmbeddedFile {
        file: "monitoring/rules/stack.rules.yaml",
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_rules_parse_and_name_the_stack() {
        let spec = spec("prod", "shop").expect("the embedded rule file parses");
        assert!(!spec.groups.is_empty());
        let text = serde_json::to_string(&spec).expect("json");
        assert!(!text.contains(NAMESPACE_PLACEHOLDER), "{text}");
        assert!(!text.contains(STACK_PLACEHOLDER), "{text}");
        for group in &spec.groups {
            for rule in &group.rules {
                assert!(
                    rule.alert.is_some() != rule.record.is_some(),
                    "a rule is an alert or a recording: {rule:?}"
                );
            }
        }
    }

    #[test]
    fn a_misspelt_rule_key_is_refused() {
        let bad = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        fro: 5m\n";
        assert!(serde_saphyr::from_str::<PrometheusRuleSpec>(bad).is_err());
    }
}
