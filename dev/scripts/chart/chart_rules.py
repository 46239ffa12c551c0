"""Invariants of the rendered natstack chart, as pure functions.

Each function takes rendered objects (and the merged values) and returns a
list of problems, empty when the invariant holds. check_chart.py runs them
on every values variant, and also on deliberately broken objects to prove
that each one can fail.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

OWNED = {"get", "list", "watch", "create", "patch", "delete"}

# What the operator does, kind by kind (operator/src/controller.rs watches;
# the steps of operator/src/reconcile/ create Secrets once, read database
# volumes by name, apply, prune, list the stack's pods and patch status; Events
# go through kube's Recorder): the RBAC must grant exactly this, no more, no less.
# Secrets are never deleted (a removed component's Secrets go with the stack,
# by ownerReference), and user-referenced ones are read by name.
EXPECTED_RBAC: dict[tuple[str, str], set[str]] = {
    ("natstack.dev", "microservicestacks"): {"get", "list", "watch"},
    ("natstack.dev", "microservicestacks/status"): {"patch"},
    ("natstack.dev", "microservicestacks/finalizers"): {"update"},
    ("apps", "statefulsets"): OWNED,
    ("apps", "deployments"): OWNED,
    ("", "services"): OWNED,
    ("", "configmaps"): OWNED,
    ("", "secrets"): {"get", "list", "watch", "create", "patch"},
    ("networking.k8s.io", "networkpolicies"): OWNED,
    ("batch", "jobs"): OWNED,
    ("policy", "poddisruptionbudgets"): OWNED,
    ("", "pods"): {"list"},
    ("", "persistentvolumeclaims"): {"get"},
    ("autoscaling", "horizontalpodautoscalers"): OWNED,
    ("events.k8s.io", "events"): {"create", "patch"},
    # spec.monitoring: applied and pruned, never watched (operator/src/reconcile/discover.rs).
    ("monitoring.coreos.com", "servicemonitors"): {"list", "create", "patch", "delete"},
    ("monitoring.coreos.com", "podmonitors"): {"list", "create", "patch", "delete"},
    ("monitoring.coreos.com", "prometheusrules"): {"list", "create", "patch", "delete"},
    # postgres.provider cnpg / mongodb.provider community-operator: never watched;
    # discovery (no grant needed) tells whether their APIs are served. Databases
    # and ScheduledBackups are applied and pruned; a Cluster or MongoDBCommunity is
    # only applied (deleting one deletes its data). The operator's test
    # day2::engines compares these with the requests the operator makes.
    ("postgresql.cnpg.io", "clusters"): {"create", "patch"},
    ("postgresql.cnpg.io", "databases"): {"list", "create", "patch", "delete"},
    ("postgresql.cnpg.io", "scheduledbackups"): {"list", "create", "patch", "delete"},
    ("mongodbcommunity.mongodb.com", "mongodbcommunity"): {"create", "patch"},
}

# Verbs on Secrets that no role of the chart may grant: deleting (or
# rewriting with PUT) any Secret in scope, or everything at once.
FORBIDDEN_SECRET_VERBS = {"delete", "deletecollection", "update", "*"}

CLUSTER_SCOPED = {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}


def expected_kinds(values: Obj) -> dict[str, int]:
    """How many objects of each kind the values ask for."""
    scope = "Role" if values.get("watchNamespace") else "ClusterRole"
    kinds = {"Deployment": 1}
    if values["serviceAccount"]["create"]:
        kinds["ServiceAccount"] = 1
    if values["rbac"]["create"]:
        kinds[scope] = 1
        kinds[f"{scope}Binding"] = 1
    if values.get("metrics", {}).get("service", {}).get("enabled"):
        kinds["Service"] = 1
    if values["crds"]["create"]:
        kinds["CustomResourceDefinition"] = 1
    if values["stack"]["create"]:
        kinds["MicroserviceStack"] = 1
    monitoring = values.get("monitoring", {})
    if monitoring.get("serviceMonitor", {}).get("enabled"):
        kinds["ServiceMonitor"] = 1
    if monitoring.get("rules", {}).get("enabled"):
        kinds["PrometheusRule"] = 1
    if monitoring.get("dashboard", {}).get("enabled"):
        kinds["ConfigMap"] = 1
    return kinds


def kinds_problems(objects: list[Obj], values: Obj) -> list[str]:
    found: dict[str, int] = {}
    for obj in objects:
        found[obj["kind"]] = found.get(obj["kind"], 0) + 1
    want = expected_kinds(values)
    return [] if found == want else [f"rendered kinds {found}, expected {want}"]


def namespace_problems(objects: list[Obj]) -> list[str]:
    problems = []
    for obj in objects:
        has_ns = bool(obj.get("metadata", {}).get("namespace"))
        if obj["kind"] in CLUSTER_SCOPED and has_ns:
            problems.append(f"{obj['kind']} is cluster-scoped but has a namespace")
        if obj["kind"] not in CLUSTER_SCOPED and not has_ns:
            problems.append(f"{obj['kind']}/{obj['metadata'].get('name')} has no explicit namespace")
    return problems


def deployment_problems(dep: Obj, values: Obj) -> list[str]:
    """One replica, Recreate, explicit image tag, resources, restricted
    security contexts, probes on the health port, the watch-namespace flag."""
    problems = []
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    if spec.get("replicas") != 1:
        problems.append(f"replicas is {spec.get('replicas')}, must be 1 (no leader election)")
    if spec.get("strategy", {}).get("type") != "Recreate":
        problems.append("strategy must be Recreate (never two operators at once)")
    pod_sc = pod.get("securityContext", {})
    for container in pod["containers"]:
        name = container["name"]
        image = container["image"]
        tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
        if not tag or tag == "latest":
            problems.append(f"{name}: image {image} needs an explicit, non-latest tag")
        res = container.get("resources", {})
        for need in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
            if need[1] not in res.get(need[0], {}):
                problems.append(f"{name}: resources.{need[0]}.{need[1]} missing")
        sc = container.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation must be false")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            problems.append(f"{name}: capabilities must drop ALL")
        if sc.get("privileged"):
            problems.append(f"{name}: must not be privileged")
        if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
            problems.append(f"{name}: runAsNonRoot must be true")
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile must be RuntimeDefault")
        ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
        for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
            get = container.get(probe, {}).get("httpGet", {})
            if get.get("path") != path or get.get("port") not in ("health", ports.get("health")):
                problems.append(f"{name}: {probe} must GET {path} on the health port")
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        if env.get("HEALTH_ADDR", "").rsplit(":", 1)[-1] != str(ports.get("health")):
            problems.append(f"{name}: HEALTH_ADDR does not match the health containerPort")
        flag = f"--namespace={values['watchNamespace']}" if values.get("watchNamespace") else None
        args = container.get("args", [])
        if flag and flag not in args:
            problems.append(f"{name}: watching one namespace needs {flag}")
        if not flag and any(a.startswith("--namespace") for a in args):
            problems.append(f"{name}: cluster-wide operator must not get --namespace")
    return problems


def service_problems(svc: Obj, dep: Obj) -> list[str]:
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    selector = svc["spec"].get("selector", {})
    problems = []
    if not selector or any(pod_labels.get(k) != v for k, v in selector.items()):
        problems.append(f"Service selector {selector} does not select the operator pod")
    port_names = {p.get("name") for c in dep["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
    for port in svc["spec"]["ports"]:
        if isinstance(port.get("targetPort"), str) and port["targetPort"] not in port_names:
            problems.append(f"Service targetPort {port['targetPort']} is not a container port")
    return problems


def rbac_problems(objects: list[Obj], values: Obj) -> list[str]:
    """Role iff one namespace is watched; exact verbs per kind; no wildcards;
    the binding points at the role and the operator's ServiceAccount."""
    problems = []
    roles = [o for o in objects if o["kind"] in ("Role", "ClusterRole")]
    bindings = [o for o in objects if o["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    if not values["rbac"]["create"]:
        return [] if not roles and not bindings else ["rbac.create=false but RBAC rendered"]
    if len(roles) != 1 or len(bindings) != 1:
        return [f"expected one role and one binding, got {len(roles)} and {len(bindings)}"]
    role, binding = roles[0], bindings[0]
    watch_ns = values.get("watchNamespace")
    if watch_ns and (role["kind"] != "Role" or role["metadata"].get("namespace") != watch_ns):
        problems.append(f"watchNamespace={watch_ns} needs a Role in that namespace")
    if not watch_ns and role["kind"] != "ClusterRole":
        problems.append("a cluster-wide operator needs a ClusterRole")
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in role.get("rules", []):
        for field in ("apiGroups", "resources", "verbs"):
            if "*" in rule.get(field, []):
                problems.append(f"wildcard in {field}: {rule}")
        if rule.get("resourceNames") or rule.get("nonResourceURLs"):
            problems.append(f"unexpected rule shape: {rule}")
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                granted.setdefault((group, resource), set()).update(rule.get("verbs", []))
    for key in sorted(set(granted) | set(EXPECTED_RBAC)):
        have, want = granted.get(key, set()), EXPECTED_RBAC.get(key, set())
        if have != want:
            problems.append(
                f"{key[0] or 'core'}/{key[1]}: grants {sorted(have)}, the operator needs {sorted(want)}"
            )
    ref = binding.get("roleRef", {})
    if ref.get("kind") != role["kind"] or ref.get("name") != role["metadata"]["name"]:
        problems.append(f"binding roleRef {ref} does not point at {role['kind']}/{role['metadata']['name']}")
    if watch_ns and binding["metadata"].get("namespace") != watch_ns:
        problems.append("RoleBinding must live in the watched namespace")
    sa = [o for o in objects if o["kind"] == "ServiceAccount"]
    sa_name = sa[0]["metadata"]["name"] if sa else values["serviceAccount"].get("name") or "default"
    pod_sa = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"].get(
        "serviceAccountName", "default"
    )
    subjects = binding.get("subjects", [])
    if not any(s.get("kind") == "ServiceAccount" and s.get("name") == pod_sa for s in subjects):
        problems.append(f"binding subjects {subjects} miss the pod's ServiceAccount {pod_sa}")
    if sa and pod_sa != sa_name:
        problems.append(f"pod runs as {pod_sa}, but the chart created {sa_name}")
    return problems


def secret_problems(objects: list[Obj]) -> list[str]:
    """No role of the chart may delete or overwrite Secrets, nor reach them
    through a wildcard resource or group (checked apart from the exact-verbs
    rule so it holds whatever else changes)."""
    problems = []
    for role in (o for o in objects if o["kind"] in ("Role", "ClusterRole")):
        for rule in role.get("rules", []):
            groups, resources = rule.get("apiGroups", []), rule.get("resources", [])
            if not ({"", "*"} & set(groups) and {"secrets", "*"} & set(resources)):
                continue
            bad = FORBIDDEN_SECRET_VERBS & set(rule.get("verbs", []))
            if bad:
                problems.append(f"{role['kind']}/{role['metadata']['name']} grants {sorted(bad)} on Secrets")
            if "*" in resources or "*" in groups:
                problems.append(f"{role['kind']}/{role['metadata']['name']} reaches Secrets through a wildcard")
    return problems


def crd_problems(rendered: Obj, generated: Obj) -> list[str]:
    """The rendered CRD is the generated one plus the keep policy and labels."""
    problems = []
    annotations = rendered["metadata"].get("annotations", {})
    if annotations.get("helm.sh/resource-policy") != "keep":
        problems.append("CRD lacks helm.sh/resource-policy: keep (uninstall would delete every stack)")
    stripped = {**rendered, "metadata": dict(rendered["metadata"])}
    extra_annotations = {k: v for k, v in annotations.items() if k != "helm.sh/resource-policy"}
    gen_meta = generated.get("metadata", {})
    if extra_annotations != gen_meta.get("annotations", {}):
        problems.append("CRD annotations differ from crds/ beyond the keep policy")
    for field in ("annotations", "labels"):
        stripped["metadata"].pop(field, None)
    want = {**generated, "metadata": {k: v for k, v in gen_meta.items() if k not in ("annotations", "labels")}}
    if stripped != want:
        problems.append("rendered CRD differs from crds/microservicestacks.yaml (run `make sync-crds`)")
    return problems
