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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chart"))
from common import check_and_strip, schema_errors, vendored_validators  # noqa: E402

GROUP = "monitoring.coreos.com"
CRDS = Path(__file__).resolve().parent / "prometheus-operator-crds"


def validators() -> dict[tuple[str, str], Any]:
    """A validator per (apiVersion, kind) of the vendored CRDs."""
    return vendored_validators([CRDS])


def is_monitoring(obj: dict[str, Any]) -> bool:
    return str(obj.get("apiVersion", "")).startswith(f"{GROUP}/")


def errors(checks: dict[tuple[str, str], Any], obj: dict[str, Any]) -> list[str]:
    """Why `obj` does not validate against its prometheus-operator schema."""
    return schema_errors(checks, obj)


def main(directory: Path) -> int:
    checks = validators()
    checked, failed = check_and_strip(
        directory, checks, lambda obj: GROUP if is_monitoring(obj) else None
    )
    # A broken object must fail, or the check proves nothing.
    broken = {"apiVersion": f"{GROUP}/v1", "kind": "ServiceMonitor",
              "metadata": {"name": "x"}, "spec": {"endpoints": [{"prot": "health"}]}}
    if not errors(checks, broken):
        print("FAIL  a ServiceMonitor with a misspelt field passed the schema")
        failed += 1
    print(f"prometheus-operator: {checked[GROUP]} objects checked, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
