"""The database engines' kinds, validated against their operators' own CRD schemas.

`cnpg-crds/` holds the Cluster, Database and ScheduledBackup CRDs of
CloudNativePG 1.27.1 (releases/cnpg-1.27.1.yaml of
github.com/cloudnative-pg/cloudnative-pg, Apache-2.0), and
`mongodb-operator-crds/` the MongoDBCommunity CRD of the MongoDB community
operator 0.13.0 (config/crd/bases/ of github.com/mongodb/mongodb-kubernetes-operator,
Apache-2.0): the kinds natstack renders for `postgres.provider: cnpg` and
`mongodb.provider: community-operator`, with their descriptions removed. The
schemas are checked strictly (unknown fields fail), like the prometheus-operator
kinds in dev/scripts/monitoring/.

As a program: `engines.py DIR` validates every object of those groups in the
YAML files of DIR, and rewrites the files without them, so that
kubernetes-validate (which knows only the built-in kinds) checks the rest. It
fails when no object of a group was checked: examples/production.yaml renders
both.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chart"))
from common import check_and_strip, schema_errors, vendored_validators  # noqa: E402

HERE = Path(__file__).resolve().parent
GROUPS = {
    "postgresql.cnpg.io": HERE / "cnpg-crds",
    "mongodbcommunity.mongodb.com": HERE / "mongodb-operator-crds",
}


def group_of(obj: dict[str, Any]) -> str | None:
    group = str(obj.get("apiVersion", "")).split("/")[0]
    return group if group in GROUPS else None


def main(directory: Path) -> int:
    checks = vendored_validators(GROUPS.values())
    checked, failed = check_and_strip(directory, checks, group_of)
    for group in GROUPS:
        if checked[group] == 0:
            print(f"FAIL  no {group} object was rendered (examples/production.yaml has them)")
            failed += 1
    # A broken object must fail, or the check proves nothing.
    broken = [
        {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "x"},
         "spec": {"instances": 3, "storage": {"sise": "1Gi"}}},
        {"apiVersion": "mongodbcommunity.mongodb.com/v1", "kind": "MongoDBCommunity",
         "metadata": {"name": "x"},
         "spec": {"type": "ReplicaSet", "security": {"authentication": {"modes": ["SCRAM"]}},
                  "users": [{"name": "u", "roles": [{"name": "readWrite"}]}]}},
    ]
    for obj in broken:
        if not schema_errors(checks, obj):
            print(f"FAIL  a {obj['kind']} with a misspelt or missing field passed the schema")
            failed += 1
    counts = ", ".join(f"{checked[group]} {group}" for group in GROUPS)
    print(f"engine operators: {counts} objects checked, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
