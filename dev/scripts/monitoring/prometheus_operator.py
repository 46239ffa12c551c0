"""The prometheus-operator's kinds, validated against its own CRD schemas.

`prometheus-operator-crds/` holds the ServiceMonitor, PodMonitor and
PrometheusRule CRDs of prometheus-operator v0.93.0
(example/prometheus-operator-crd/ of github.com/prometheus-operator/prometheus-operator,
Apache-2.0), the kinds natstack renders. The schemas are checked strictly
(unknown fields fail), like the natstack CRD in dev/scripts/chart/.

As a program: `prometheus_operator.py DIR` validates every
monitoring.coreos.com object in the YAML files of DIR, and rewrites the files
without them, so that kubernetes-validate (which knows only the built-in
kinds) checks the rest.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chart"))
from common import crd_validators, describe, load_documents, schema_errors  # noqa: E402

GROUP = "monitoring.coreos.com"
CRDS = Path(__file__).resolve().parent / "prometheus-operator-crds"


def validators() -> dict[tuple[str, str], Any]:
    """A validator per (apiVersion, kind) of the vendored CRDs."""
    found: dict[tuple[str, str], Any] = {}
    for path in sorted(CRDS.glob("*.yaml")):
        for crd in load_documents(path.read_text()):
            found.update(crd_validators(crd))
    return found


def is_monitoring(obj: dict[str, Any]) -> bool:
    return str(obj.get("apiVersion", "")).startswith(f"{GROUP}/")


def errors(checks: dict[tuple[str, str], Any], obj: dict[str, Any]) -> list[str]:
    """Why `obj` does not validate against its prometheus-operator schema."""
    return schema_errors(checks, obj)


def main(directory: Path) -> int:
    checks = validators()
    failed = checked = 0
    for path in sorted(directory.glob("*.yaml")):
        docs = load_documents(path.read_text())
        rest = []
        for obj in docs:
            if not is_monitoring(obj):
                rest.append(obj)
                continue
            checked += 1
            problems = errors(checks, obj)
            if problems:
                failed += 1
                print(f"FAIL  {path.name}: {describe(obj)}: {'; '.join(problems)}")
        if len(rest) != len(docs):
            path.write_text(yaml.safe_dump_all(rest, sort_keys=False))
    # A broken object must fail, or the check proves nothing.
    broken = {"apiVersion": f"{GROUP}/v1", "kind": "ServiceMonitor",
              "metadata": {"name": "x"}, "spec": {"endpoints": [{"prot": "health"}]}}
    if not errors(checks, broken):
        print("FAIL  a ServiceMonitor with a misspelt field passed the schema")
        failed += 1
    print(f"prometheus-operator: {checked} objects checked, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
