#!/usr/bin/env bash
# Validates every object the operator builds (for every fixture stack), the created-once
# Secrets and the CRD against the official Kubernetes OpenAPI schemas, strictly, offline.
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

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
NATSTACK_MANIFEST_DIR="$out" cargo test -q -p operator --test dump_manifests >/dev/null
count="$(find "$out" -type f | wc -l)"
"$validator" --strict --quiet --no-warn -k "$version" "$out"/*
echo "validate-manifests: $count manifests valid against Kubernetes $version (strict)"
