"""Offline checks of charts/natstack with the real Helm library.

For the default values and every variant in charts/natstack/ci/: strict lint,
render, validate every object against the Kubernetes 1.33 schemas (the sample
stack against the CRD's schema instead), and check the chart's invariants
(chart_rules.py). Then the negative cases: bad values must be rejected by
values.schema.json (and by render), a broken chart must fail lint, and every
validator must reject a broken object.
"""

from __future__ import annotations

import copy
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import yaml

import chart_rules as rules

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitoring"))
import prometheus_operator  # noqa: E402

MONITORING_VALIDATORS = prometheus_operator.validators()
from common import CHART, CRD, KUBE_VERSION, Report, crd_validators, describe, kube_errors, load_crd, load_documents, rel, schema_errors

RELEASE, NAMESPACE = "natstack", "natstack-system"
# Lint findings that are informational and accepted on purpose.
ACCEPTED_INFO = {"icon is recommended"}

# Values that values.schema.json must refuse, with why each one is wrong.
BAD_VALUES: list[tuple[str, dict[str, Any]]] = [
    ("a misspelt top-level key", {"watchNamespaces": "apps"}),
    ("the latest image tag", {"image": {"tag": "latest"}}),
    ("an unknown pull policy", {"image": {"pullPolicy": "Sometimes"}}),
    ("a namespace that is not a DNS label", {"watchNamespace": "Apps_NS"}),
    ("a health port out of range", {"healthPort": 70000}),
    ("an unknown log format", {"logFormat": "xml"}),
    ("no memory limit", {"resources": {"limits": None}}),
    ("privilege escalation", {"securityContext": {"allowPrivilegeEscalation": True}}),
    ("running as root", {"podSecurityContext": {"runAsNonRoot": False}}),
    ("keeping all capabilities", {"securityContext": {"capabilities": {"drop": []}}}),
    ("a stack name over 30 characters", {"stack": {"name": "a" * 31}}),
    ("crds.create as a string", {"crds": {"create": "yes"}}),
    ("a stack without a spec", {"stack": {"spec": None}}),
    ("a scrape interval that is no duration", {"monitoring": {"serviceMonitor": {"enabled": True, "interval": "often"}}}),
    ("a misspelt monitoring key", {"monitoring": {"serviceMonitors": {"enabled": True}}}),
    ("a ServiceMonitor without the metrics Service",
     {"monitoring": {"serviceMonitor": {"enabled": True}}, "metrics": {"service": {"enabled": False}}}),
]


def variants() -> dict[str, dict[str, Any]]:
    found = {"default": {}}
    for path in sorted((CHART / "ci").glob("*-values.yaml")):
        found[path.name.removesuffix("-values.yaml")] = yaml.safe_load(path.read_text()) or {}
    return found


def lint_problems(path: Path, values: dict[str, Any]) -> list[str]:
    report = helm.lint(path, values, strict=True, namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}.0")
    problems = list(report.get("errors") or [])
    for msg in report.get("messages") or []:
        if msg["severity"] >= 2 or msg["error"] not in ACCEPTED_INFO:
            problems.append(f"{msg['path']}: {msg['error'].strip()}")
    return sorted(set(problems))


def render(chart: helm.Chart, values: dict[str, Any]) -> list[dict[str, Any]]:
    manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    objects = []
    for template, text in sorted(manifests.items()):
        if template.endswith(".txt"):
            continue
        objects.extend(load_documents(text))
    return objects


def check_variant(report: Report, chart: helm.Chart, name: str, values: dict[str, Any], crd: dict[str, Any]) -> None:
    problems = lint_problems(CHART, values)
    report.check(not problems, f"[{name}] helm lint --strict is clean", "; ".join(problems))
    try:
        objects = render(chart, values)
    except helm.HelmError as err:
        report.fail(f"[{name}] render failed: {err}")
        return
    merged = chart.merge_values(values)
    report.ok(f"[{name}] renders {len(objects)} objects: {', '.join(describe(o) for o in objects)}")

    validators = crd_validators(crd)
    for obj in objects:
        if obj["kind"] == crd["spec"]["names"]["kind"]:
            errors = schema_errors(validators, obj)
            report.check(not errors, f"[{name}] {describe(obj)} validates against the CRD schema", "; ".join(errors))
        elif prometheus_operator.is_monitoring(obj):
            errors = prometheus_operator.errors(MONITORING_VALIDATORS, obj)
            report.check(not errors, f"[{name}] {describe(obj)} validates against the prometheus-operator schema",
                         "; ".join(errors))
        else:
            errors = kube_errors(obj)
            report.check(not errors, f"[{name}] {describe(obj)} validates against Kubernetes {KUBE_VERSION} (strict)", "; ".join(errors))

    by_kind = {o["kind"]: o for o in objects}
    deployment = by_kind.get("Deployment")
    invariants = {
        "expected kinds for these values": rules.kinds_problems(objects, merged),
        "namespaces set exactly on namespaced objects": rules.namespace_problems(objects),
    }
    if deployment:
        invariants["operator Deployment: 1 replica, Recreate, resources, restricted, probes"] = rules.deployment_problems(deployment, merged)
        invariants["RBAC: scope, exact verbs per kind, binding"] = rules.rbac_problems(objects, merged)
        invariants["RBAC: no role may delete or overwrite Secrets"] = rules.secret_problems(objects)
        if "Service" in by_kind:
            invariants["metrics Service selects the operator's health port"] = rules.service_problems(by_kind["Service"], deployment)
    if "CustomResourceDefinition" in by_kind:
        invariants["CRD equals crds/ and is kept on uninstall"] = rules.crd_problems(by_kind["CustomResourceDefinition"], crd)
    if "MicroserviceStack" in by_kind:
        hook = by_kind["MicroserviceStack"]["metadata"].get("annotations", {}).get("helm.sh/hook")
        invariants["sample stack is a post-install hook"] = [] if hook == "post-install" else [f"hook is {hook!r}"]
    for what, problems in invariants.items():
        report.check(not problems, f"[{name}] {what}", "; ".join(problems))


def check_bad_values(report: Report, chart: helm.Chart) -> None:
    for why, values in BAD_VALUES:
        try:
            chart.validate_schema(values)
            report.fail(f"values.schema.json accepts {why}: {values}")
            continue
        except helm.HelmValuesError:
            pass
        try:
            chart.render(values, name=RELEASE, namespace=NAMESPACE)
            report.fail(f"render accepts {why}: {values}")
        except helm.HelmValuesError:
            report.ok(f"values.schema.json rejects {why}")


def check_validators_can_fail(report: Report, chart: helm.Chart, crd: dict[str, Any]) -> None:
    """Break good objects and expect every validator to notice."""
    objects = render(chart, {"watchNamespace": "apps", "stack": {"create": True}})
    by_kind = {o["kind"]: o for o in objects}
    merged = chart.merge_values({"watchNamespace": "apps"})

    dep = copy.deepcopy(by_kind["Deployment"])
    dep["spec"]["replicas"] = "one"
    dep["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    report.check(bool(kube_errors(dep)), "kubernetes-validate rejects a malformed Deployment")
    report.check(bool(kube_errors({"apiVersion": "v1", "kind": "Nonsense", "metadata": {"name": "x"}})),
                 "kubernetes-validate rejects an unknown kind")

    dep = copy.deepcopy(by_kind["Deployment"])
    dep["spec"]["replicas"] = 2
    dep["spec"]["strategy"] = {"type": "RollingUpdate"}
    container = dep["spec"]["template"]["spec"]["containers"][0]
    container["image"] = container["image"].rsplit(":", 1)[0] + ":latest"
    container["securityContext"]["allowPrivilegeEscalation"] = True
    del container["resources"]["limits"]
    del container["args"]
    found = rules.deployment_problems(dep, merged)
    report.check(len(found) >= 6, f"Deployment invariants catch a broken Deployment ({len(found)} problems)")

    wide = copy.deepcopy(objects)
    role = next(o for o in wide if o["kind"] == "Role")
    role["rules"].append({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]})
    role["rules"][0]["verbs"].append("delete")
    found = rules.rbac_problems(wide, merged)
    report.check(len(found) >= 3, f"RBAC invariants catch wildcard and extra verbs ({len(found)} problems)")
    report.check(bool(rules.rbac_problems(objects, chart.merge_values({}))),
                 "RBAC invariants catch a Role where a ClusterRole is needed")
    for verbs in (["delete"], ["deletecollection"], ["*"]):
        broad = copy.deepcopy(objects)
        role = next(o for o in broad if o["kind"] == "Role")
        role["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": verbs})
        report.check(bool(rules.secret_problems(broad)), f"Secret rule catches {verbs} on Secrets")
    broad = copy.deepcopy(objects)
    next(o for o in broad if o["kind"] == "Role")["rules"].append(
        {"apiGroups": [""], "resources": ["*"], "verbs": ["get"]})
    report.check(bool(rules.secret_problems(broad)), "Secret rule catches a wildcard resource reaching Secrets")

    stack = copy.deepcopy(by_kind["MicroserviceStack"])
    stack["spec"] = {"gateway": {"replicas": "two", "nodeport": 30080}}
    report.check(bool(schema_errors(crd_validators(crd), stack)), "CRD schema rejects a malformed sample stack")

    bad_crd = copy.deepcopy(by_kind["CustomResourceDefinition"])
    bad_crd["metadata"]["annotations"].pop("helm.sh/resource-policy")
    bad_crd["spec"]["names"]["shortNames"] = ["stack"]
    report.check(len(rules.crd_problems(bad_crd, crd)) == 2, "CRD invariants catch a missing keep policy and drift")


def check_broken_chart_fails(report: Report) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        copy_dir = Path(tmp) / "natstack"
        shutil.copytree(CHART, copy_dir)
        (copy_dir / "templates" / "broken.yaml").write_text("kind: ConfigMap\nname: {{ .Values.nope.deeper }}\n")
        report.check(bool(lint_problems(copy_dir, {})), "helm lint fails on a broken template")
        (copy_dir / "templates" / "broken.yaml").unlink()
        (copy_dir / "files" / "microservicestacks.yaml").unlink()
        with helm.Chart.load(copy_dir) as broken:
            try:
                broken.render({}, name=RELEASE, namespace=NAMESPACE)
                report.fail("render succeeds without files/microservicestacks.yaml")
            except helm.HelmRenderError as err:
                report.check("sync-crds" in str(err), "render without the CRD copy fails and says `make sync-crds`", str(err))


def main() -> None:
    report = Report(
        f"chart {rel(CHART)} (Helm {helm.helm_sdk_version()} via helm-python-sdk, "
        f"kubernetes-validate {kubernetes_validate.__version__}, Kubernetes {KUBE_VERSION})"
    )
    crd = load_crd(CRD)
    with helm.Chart.load(CHART) as chart:
        for name, values in variants().items():
            check_variant(report, chart, name, values, crd)
        check_bad_values(report, chart)
        check_validators_can_fail(report, chart, crd)
    check_broken_chart_fails(report)
    report.finish()


if __name__ == "__main__":
    sys.exit(main())
