#!/usr/bin/env bash
# Validates every object the operator renders — for every example stack and every valid test
# fixture, with its generated Secrets — and the CRD against the official Kubernetes OpenAPI
# schemas, strictly, offline. The objects come from `operator render`, the same code path as
# `make render` and the reconciler. The prometheus-operator's kinds (`spec.monitoring`) are
# checked against its own CRD schemas (dev/scripts/monitoring/), CloudNativePG's and the MongoDB
# community operator's (`provider`) against theirs (dev/scripts/engines/), the rest against
# Kubernetes'.
#
# Usage (from the repository root): operator/scripts/validate-manifests.sh
# Env: KUBERNETES_VALIDATE  validator binary   (default .venv/bin/kubernetes-validate)
#      K8S_VERSION          Kubernetes version (default 1.33.0, the k8s-openapi floor in use)
#      CARGO_TARGET_DIR     passed through to cargo
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
validator="${KUBERNETES_VALIDATE:-.venv/bin/kubernetes-validate}"
version="${K8S_VERSION:-1.33.0}"
cd "$root"
if ! [ -x "$validator" ]; then
    echo "validate-manifests: $validator not found (set KUBERNETES_VALIDATE)" >&2
    exit 1
fi

cargo build -q -p operator --bin operator
operator="${CARGO_TARGET_DIR:-target}/debug/operator"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# The fixtures hold a stack alone; `external-databases` references Secrets it does not hold,
# and examples/external-databases.yaml (which holds them) renders the same shape.
stacks=(examples/*.yaml)
for fixture in operator/tests/fixtures/*.yaml; do
    case "$fixture" in */external-databases.yaml) continue ;; esac
    stacks+=("$fixture")
done
objects=0
for stack in "${stacks[@]}"; do
    name="$(basename "$(dirname "$stack")")-$(basename "$stack" .yaml)"
    "$operator" render -f "$stack" --generate-secrets >"$out/$name.yaml"
    objects=$((objects + $(grep -c '^kind:' "$out/$name.yaml")))
done
"$(dirname "$validator")/python" -B dev/scripts/monitoring/prometheus_operator.py "$out"
"$(dirname "$validator")/python" -B dev/scripts/engines/engines.py "$out"
cp crds/microservicestacks.yaml "$out/crd.yaml"
"$validator" --strict --quiet --no-warn -k "$version" "$out"/*.yaml
echo "validate-manifests: ${#stacks[@]} stacks, $objects objects and the CRD valid against Kubernetes $version (strict)"
