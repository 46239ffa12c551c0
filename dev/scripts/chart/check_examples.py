"""Every example validates: MicroserviceStacks against the CRD's structural
schema (unknown fields refused, as `kubectl apply` does), anything else
against the Kubernetes schemas. Each example also keeps the shape the docs
promise. CEL rules (x-kubernetes-validations) cannot be evaluated here; the
operator's Rust tests evaluate them on its own fixtures, and the API server
enforces them on apply.
"""

from __future__ import annotations

import copy
import sys
from typing import Any, Callable

from common import CRD, EXAMPLES, KUBE_VERSION, Report, crd_validators, describe, kube_errors, load_crd, load_documents, rel, schema_errors

Stack = dict[str, Any]


def services(stack: Stack) -> list[dict[str, Any]]:
    return stack["spec"].get("services", [])


# What each example is documented to show (docs/cluster.md).
PROMISES: dict[str, list[tuple[str, Callable[[Stack], bool]]]] = {
    "minimal.yaml": [
        ("gateway on node port 30080 (the kind host port)",
         lambda s: s["spec"].get("gateway", {}).get("nodePort") == 30080),
    ],
    "full.yaml": [
        ("3 NATS replicas", lambda s: s["spec"]["nats"]["replicas"] == 3),
        ("the three built-in services", lambda s: {x["name"] for x in services(s)} == {"auth", "customers", "products"}),
        ("two replicas of every service", lambda s: bool(services(s)) and all(x.get("replicas") == 2 for x in services(s))),
        ("two gateway replicas", lambda s: s["spec"]["gateway"].get("replicas") == 2),
        # A trusted proxy may name any client: a whole pod CIDR would let every pod do so.
        ("trusted proxies narrower than a pod CIDR (no range wider than /24)",
         lambda s: bool(s["spec"]["gateway"].get("trustedProxies")) and all(
             "/" not in p or int(p.split("/")[1]) >= (24 if ":" not in p else 120)
             for p in s["spec"]["gateway"]["trustedProxies"])),
        ("pod overrides", lambda s: bool(s["spec"].get("podOverrides"))),
    ],
    "external-databases.yaml": [
        ("PostgreSQL from an existing Secret", lambda s: bool(s["spec"]["postgres"].get("existingSecret"))),
        ("MongoDB from an existing Secret", lambda s: bool(s["spec"]["mongodb"].get("existingSecret"))),
    ],
}


def main() -> None:
    report = Report(f"examples in {rel(EXAMPLES)} (CRD schema of {rel(CRD)}, Kubernetes {KUBE_VERSION})")
    crd = load_crd(CRD)
    validators = crd_validators(crd)
    kind = crd["spec"]["names"]["kind"]
    stacks: dict[str, Stack] = {}

    paths = sorted(EXAMPLES.glob("*.yaml"))
    report.check(bool(paths), "there are examples")
    for path in paths:
        docs = load_documents(path.read_text())
        file_stacks = [d for d in docs if d.get("kind") == kind]
        report.check(len(file_stacks) == 1, f"{rel(path)} holds exactly one {kind}")
        for doc in docs:
            errors = schema_errors(validators, doc) if doc.get("kind") == kind else kube_errors(doc)
            against = "the CRD schema" if doc.get("kind") == kind else f"Kubernetes {KUBE_VERSION}"
            report.check(not errors, f"{rel(path)}: {describe(doc)} validates against {against}", "; ".join(errors))
        if file_stacks:
            stacks[path.name] = file_stacks[0]

    for name, promises in PROMISES.items():
        stack = stacks.get(name)
        if stack is None:
            report.fail(f"examples/{name} is missing")
            continue
        for what, holds in promises:
            try:
                ok = holds(stack)
            except (KeyError, TypeError):
                ok = False
            report.check(ok, f"examples/{name} shows {what}")

    # The schema check must be able to fail: a typo, a wrong type and a bad enum.
    if stacks:
        broken = copy.deepcopy(next(iter(stacks.values())))
        broken["spec"]["gatway"] = {}
        broken["spec"]["nats"] = {"replicas": "three"}
        broken["spec"]["services"] = [{"name": "auth", "database": "mysql"}]
        errors = schema_errors(validators, broken)
        report.check(len(errors) >= 3, f"the CRD schema rejects a misspelt field, a string count and an unknown database ({len(errors)} errors)")
        other = copy.deepcopy(broken)
        other["apiVersion"] = "natstack.dev/v9"
        report.check(bool(schema_errors(validators, other)), "an unserved apiVersion is rejected")
    report.finish()


if __name__ == "__main__":
    sys.exit(main())
