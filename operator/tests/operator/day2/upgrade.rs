//! Upgrading the operator: workloads an older version rendered differently roll once to
//! what this version renders, and then nothing changes any more (no hot loop).

use std::collections::BTreeMap;

use operator::manifests::common::CONFIG_HASH;
use serde_json::json;

use super::{DEPLOYMENTS, STATEFUL_SETS, World, changing_writes};

#[tokio::test]
async fn an_operator_upgrade_rolls_each_workload_exactly_once_then_writes_nothing() {
    let world = World::ready("minimal").await;
    // As an older operator left them: another version label, another pod template (config
    // hash), rolled out and available.
    let mut generations = BTreeMap::new();
    for collection in [DEPLOYMENTS, STATEFUL_SETS] {
        for name in world.fake.names(collection) {
            let mut obj = world.fake.get(collection, &name).unwrap();
            obj["metadata"]["labels"]["app.kubernetes.io/version"] = json!("0.9.0");
            obj["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH] = json!("from-0.9");
            let generation = obj["metadata"]["generation"].as_i64().unwrap() + 1;
            obj["metadata"]["generation"] = json!(generation);
            world.fake.insert(collection, obj);
            world.fake.roll_out(collection, &name);
            generations.insert(name, generation);
        }
    }

    world.fake.clear_log();
    world.reconcile().await;
    let first = changing_writes(&world.fake.log());
    for (name, generation) in &generations {
        let collection = if world.fake.get(DEPLOYMENTS, name).is_some() {
            DEPLOYMENTS
        } else {
            STATEFUL_SETS
        };
        let rolled: Vec<&String> = first
            .iter()
            .filter(|w| w.ends_with(&format!("/{name}")))
            .collect();
        assert_eq!(rolled.len(), 1, "{name} is written once: {first:?}");
        let obj = world.fake.get(collection, name).unwrap();
        assert_eq!(
            obj["metadata"]["generation"],
            generation + 1,
            "{name} rolls once"
        );
        assert_ne!(
            obj["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH],
            "from-0.9"
        );
    }
    assert_eq!(
        world.condition("Ready").0,
        "False",
        "the new rollouts are not observed yet"
    );

    // The rollouts finish; the next reconciles find nothing to change.
    world.fake.roll_out_all();
    world.reconcile().await;
    world.assert_ready();
    world.fake.clear_log();
    for _ in 0..3 {
        world.reconcile().await;
    }
    let writes = changing_writes(&world.fake.log());
    assert!(
        writes.is_empty(),
        "a steady stack is written again: {writes:?}"
    );
    for (name, generation) in &generations {
        let collection = if world.fake.get(DEPLOYMENTS, name).is_some() {
            DEPLOYMENTS
        } else {
            STATEFUL_SETS
        };
        assert_eq!(
            world.fake.get(collection, name).unwrap()["metadata"]["generation"],
            generation + 1
        );
    }
}
