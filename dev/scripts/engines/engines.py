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

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chart"))
from common import crd_validators, describe, load_documents, schema_errors  # noqa: E402

HERE = Path(__file__).resolve().parent
GROUPS = {
    "postgresql.cnpg.io": HERE / "cnpg-crds",
    "mongodbcommunity.mongodb.com": HERE / "mongodb-operator-crds",
}


def validators() -> dict[tuple[str, str], Any]:
    """A validator per (apiVersion, kind) of the vendored CRDs."""
    found: dict[tuple[str, str], Any] = {}
    for directory in GROUPS.values():
        for path in sorted(directory.glob("*.yaml")):
            for crd in load_documents(path.read_text()):
                found.update(crd_validators(crd))
    return found


def group_of(obj: dict[str, Any]) -> str | None:
    group = str(obj.get("apiVersion", "")).split("/")[0]
    return group if group in GROUPS else None


def main(directory: Path) -> int:
    checks = validators()
    failed = 0
    checked = {group: 0 for group in GROUPS}
    for path in sorted(directory.glob("*.yaml")):
        docs = load_documents(path.read_text())
        rest = []
        for obj in docs:
            group = group_of(obj)
            if group is None:
                rest.append(obj)
                continue
            checked[group] += 1
            problems = schema_errors(checks, obj)
            if problems:
                failed += 1
                print(f"FAIL  {path.name}: {describe(obj)}: {'; '.join(problems)}")
        if len(rest) != len(docs):
            path.write_text(yaml.safe_dump_all(rest, sort_keys=False))
    for group, count in checked.items():
        if count == 0:
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
    counts = ", ".join(f"{count} {group}" for group, count in checked.items())
    print(f"engine operators: {counts} objects checked, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
