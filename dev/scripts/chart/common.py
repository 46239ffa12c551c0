"""Shared plumbing of the offline packaging checks (`make chart-test`).

Every check prints what it verifies, collects failures instead of stopping at
the first one, and exits non-zero with the list. Paths are resolved from this
file, so the scripts run from any working directory.
"""

from __future__ import annotations

import copy
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "natstack"
CHART_CRD = CHART / "files" / "microservicestacks.yaml"
CRD = ROOT / "crds" / "microservicestacks.yaml"
# monitoring/ files the chart ships, and their copies in the chart (`make sync-crds`).
MONITORING_COPIES = [
    (ROOT / "monitoring" / "rules" / "operator.rules.yaml", CHART / "files" / "monitoring" / "operator.rules.yaml"),
    (ROOT / "monitoring" / "dashboards" / "operator.json", CHART / "files" / "monitoring" / "operator.json"),
]
EXAMPLES = ROOT / "examples"
KUBE_VERSION = "1.33"


class Report:
    """Collects the outcome of one check script."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.failures: list[str] = []
        print(f"== {title}")

    def ok(self, what: str) -> None:
        print(f"  ok    {what}")

    def fail(self, what: str) -> None:
        print(f"  FAIL  {what}")
        self.failures.append(what)

    def check(self, condition: bool, what: str, why: str = "") -> bool:
        if condition:
            self.ok(what)
        else:
            self.fail(f"{what}: {why}" if why else what)
        return condition

    def finish(self) -> None:
        if self.failures:
            print(f"== {self.title}: {len(self.failures)} failure(s)")
            for failure in self.failures:
                print(f"   - {failure}")
            sys.exit(1)
        print(f"== {self.title}: all passed")


def rel(path: Path) -> str:
    """A path relative to the repository root, for messages."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def load_documents(text: str) -> list[dict[str, Any]]:
    """Every non-empty YAML document of a multi-document string."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{meta.get('name')}"


# --- The CRD's schema as a JSON Schema ------------------------------------


def load_crd(path: Path = CRD) -> dict[str, Any]:
    """The CRD at `path`; exits with a pointer to `make crds` when missing."""
    if not path.is_file():
        print(f"FAIL  {rel(path)} does not exist: run `make crds` (and `make sync-crds`)")
        sys.exit(1)
    docs = load_documents(path.read_text())
    if len(docs) != 1 or docs[0].get("kind") != "CustomResourceDefinition":
        print(f"FAIL  {rel(path)} must hold exactly one CustomResourceDefinition")
        sys.exit(1)
    return docs[0]


def crd_validators(crd: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """A jsonschema validator per served (apiVersion, kind) of the CRD."""
    import jsonschema

    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"]
    validators = {}
    for version in crd["spec"]["versions"]:
        if not version.get("served", False):
            continue
        schema = strict_schema(version["schema"]["openAPIV3Schema"])
        validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return validators


def strict_schema(openapi: dict[str, Any]) -> dict[str, Any]:
    """Turn a structural OpenAPI v3 schema into a JSON Schema that behaves
    like `kubectl apply` with strict field validation.

    - An object with `properties` and no `additionalProperties` refuses
      unknown fields, unless it is marked `x-kubernetes-preserve-unknown-fields`
      (the API server would prune or reject them; a typo must fail here).
    - `nullable: true` admits null.
    - `x-kubernetes-int-or-string` admits an integer or a string.
    - `apiVersion`, `kind` and `metadata` at the root are checked by the API
      server, not the CRD schema.
    CEL rules (`x-kubernetes-validations`) are not evaluated here: the
    operator's Rust tests evaluate them on its fixtures.
    """
    schema = copy.deepcopy(openapi)

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        if node.get("nullable") is True and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        if node.get("x-kubernetes-int-or-string") is True and "type" not in node:
            node["type"] = ["integer", "string"]
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for value in node.values():
            walk(value)

    walk(schema)
    root = schema.setdefault("properties", {})
    root["metadata"] = {"type": "object"}
    root.setdefault("apiVersion", {"type": "string"})
    root.setdefault("kind", {"type": "string"})
    return schema


def schema_errors(validators: dict[tuple[str, str], Any], obj: dict[str, Any]) -> list[str]:
    """Why `obj` does not validate against the CRD schema (empty if it does)."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    validator = validators.get(key)
    if validator is None:
        return [f"apiVersion/kind {key} is not served by the CRD"]
    return [
        f"{'.'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
        for err in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    ]


def vendored_validators(directories: Iterable[Path]) -> dict[tuple[str, str], Any]:
    """A validator per (apiVersion, kind) of the CRDs in the YAML files of `directories`
    (a third-party operator's own CRDs, kept beside the script that checks its kinds)."""
    found: dict[tuple[str, str], Any] = {}
    for directory in directories:
        for path in sorted(directory.glob("*.yaml")):
            for crd in load_documents(path.read_text()):
                found.update(crd_validators(crd))
    return found


def check_and_strip(
    directory: Path,
    checks: dict[tuple[str, str], Any],
    group_of: Callable[[dict[str, Any]], str | None],
) -> tuple[Counter[str], int]:
    """Validates every object of the YAML files of `directory` that `group_of` gives a group
    (a third-party kind) against `checks`, printing each failure, and rewrites the files
    without those objects, so that kubernetes-validate (which knows only the built-in kinds)
    checks the rest. Returns the objects checked per group and how many failed."""
    checked: Counter[str] = Counter()
    failed = 0
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
    return checked, failed


# --- Kubernetes schemas -----------------------------------------------------


def kube_errors(obj: dict[str, Any]) -> list[str]:
    """Why `obj` does not validate against the official Kubernetes schemas
    (strict: unknown fields fail). Unknown kinds are an error too."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    except kubernetes_validate.ValidationError as err:
        path = ".".join(str(p) for p in err.path) or "<root>"
        return [f"{path}: {err.message}"]
    except kubernetes_validate.SchemaNotFoundError as err:
        return [err.message]
    return []
