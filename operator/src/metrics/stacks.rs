//! The stacks' conditions as gauges, read at each scrape from the controller's cache of the
//! stacks, i.e. from the status the reconciler last wrote: a deleted stack leaves the cache and
//! its series go with it.
//!
//! - `natstack_operator_stacks{condition, status}`: how many stacks have each condition in
//!   each status (at most 3 × 3 series).
//! - `natstack_operator_stack_ready{namespace, natstack_stack}`: 1 when a stack's `Ready`
//!   condition is `True`, else 0 (also while it has no status yet). One series per stack: a
//!   cluster runs a few stacks, not thousands, and "this stack is not Ready" needs the stack's
//!   name. These labels name the stack, not the operator's pod, so the operator's scrape must
//!   keep them (`honorLabels`).

use std::sync::{Arc, OnceLock};

use contract::deploy;
use kube::ResourceExt as _;
use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::controller::Guarded;
use crate::status::conditions::{Kind, State, Truth};

/// The stacks gauge (by `condition` and `status`), under the registry's `natstack_operator`
/// prefix.
pub const STACKS: &str = "stacks";
/// The per-stack readiness gauge, under the registry's `natstack_operator` prefix.
pub const STACK_READY: &str = "stack_ready";

/// The cache the gauges are read from, set once the controller has one.
#[derive(Clone, Debug, Default)]
pub struct StackGauges(Arc<OnceLock<Store<Guarded>>>);

impl StackGauges {
    /// Reads the gauges from `store` from now on (the first store set wins).
    pub fn watch(&self, store: Store<Guarded>) {
        let _ = self.0.set(store);
    }
}

/// One stack's namespace, name and the status of each of [`Kind::ALL`]; `None` for an object
/// that does not deserialize (it has no conditions to count).
fn conditions(stack: &Guarded) -> Option<(String, String, [Truth; 3])> {
    let stack = stack.0.as_ref().ok()?;
    let truth = |kind| {
        stack
            .status
            .as_ref()
            .and_then(|s| State::of(&s.conditions, kind))
            .map_or(Truth::Unknown, |s| s.truth)
    };
    Some((
        stack.namespace().unwrap_or_default(),
        stack.name_any(),
        Kind::ALL.map(truth),
    ))
}

impl Collector for StackGauges {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Some(store) = self.0.get() else {
            return Ok(());
        };
        let stacks: Vec<_> = store.state().iter().filter_map(|s| conditions(s)).collect();

        let mut family = encoder.encode_descriptor(
            STACKS,
            "Stacks by condition and its status",
            None,
            MetricType::Gauge,
        )?;
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            for truth in [Truth::True, Truth::False, Truth::Unknown] {
                let n = stacks.iter().filter(|(_, _, t)| t[i] == truth).count();
                let labels = [("condition", kind.as_str()), ("status", truth.as_str())];
                let gauge = ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX));
                gauge.encode(family.encode_family(&labels)?)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            STACK_READY,
            "1 when the stack's Ready condition is True, else 0",
            None,
            MetricType::Gauge,
        )?;
        let ready = Kind::ALL
            .iter()
            .position(|k| *k == Kind::Ready)
            .unwrap_or_default();
        for (namespace, name, truths) in &stacks {
            let labels = [
                (deploy::METRIC_LABEL_NAMESPACE, namespace.as_str()),
                // The same label the stack's own series carry.
                (deploy::METRIC_LABEL_STACK, name.as_str()),
            ];
            let gauge = ConstGauge::new(i64::from(truths[ready] == Truth::True));
            gauge.encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use kube::core::DeserializeGuard;
    use kube::runtime::{reflector, watcher};

    use super::*;
    use crate::crd::MicroserviceStack;

    /// A store holding one stack per `(namespace, name, Ready status)`; `None` for a stack
    /// with no status yet.
    pub(crate) fn store_of(stacks: &[(&str, &str, Option<Truth>)]) -> Store<Guarded> {
        let (store, mut writer) = reflector::store();
        for (namespace, name, ready) in stacks {
            let mut value = serde_json::json!({
                "apiVersion": "natstack.dev/v1alpha1",
                "kind": "MicroserviceStack",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {},
            });
            if let Some(ready) = ready {
                let condition = |kind: Kind, truth: Truth| Condition {
                    type_: kind.as_str().into(),
                    status: truth.as_str().into(),
                    reason: "Test".into(),
                    message: String::new(),
                    observed_generation: None,
                    last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
                };
                value["status"] = serde_json::json!({"conditions": [
                    condition(Kind::Ready, *ready),
                    condition(Kind::Degraded, Truth::False),
                ]});
            }
            let stack: MicroserviceStack = serde_json::from_value(value).expect("a stack");
            writer.apply_watcher_event(&watcher::Event::Apply(DeserializeGuard(Ok(stack))));
        }
        store
    }

    #[test]
    fn stacks_are_counted_by_condition_and_each_says_whether_it_is_ready() {
        let mut registry = prometheus_client::registry::Registry::with_prefix("natstack_operator");
        let gauges = StackGauges::default();
        registry.register_collector(Box::new(gauges.clone()));
        gauges.watch(store_of(&[
            ("shop", "a", Some(Truth::True)),
            ("shop", "b", Some(Truth::False)),
            ("demo", "c", None),
        ]));
        let text = runtime::exposition::render(&registry);
        for line in [
            r#"natstack_operator_stacks{condition="Ready",status="True"} 1"#,
            r#"natstack_operator_stacks{condition="Ready",status="False"} 1"#,
            r#"natstack_operator_stacks{condition="Ready",status="Unknown"} 1"#,
            r#"natstack_operator_stacks{condition="Degraded",status="False"} 2"#,
            r#"natstack_operator_stacks{condition="Progressing",status="Unknown"} 3"#,
            r#"natstack_operator_stack_ready{namespace="shop",natstack_stack="a"} 1"#,
            r#"natstack_operator_stack_ready{namespace="shop",natstack_stack="b"} 0"#,
            r#"natstack_operator_stack_ready{namespace="demo",natstack_stack="c"} 0"#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
