# The cluster path: images, a local kind cluster, the Helm chart, example
# stacks and the end-to-end checks, plus the offline chart checks that run
# in `make test`. Included by the top-level Makefile; every variable can be
# overridden on the command line (make deploy EXAMPLE=examples/full.yaml).
#
# Needs docker or podman (images), kind, kubectl and helm, except chart-test,
# sync-crds and image-test, which run offline (the venv, podman).

VENV ?= .venv

# What the Dockerfile can build; dev/scripts/chart/check_dockerfile.py keeps this
# equal to its BINARIES list.
COMPONENTS := operator gateway auth customers products
# Images are <REGISTRY>/<component>:<VERSION>. The defaults are the ones the
# operator uses for the built-in images (spec.registry, spec.version), so a
# stack needs no image settings. Never `latest`: kind-loaded images are used
# with imagePullPolicy IfNotPresent and must not be pulled again.
REGISTRY ?= ghcr.io/natstack
VERSION ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# Images the operator runs besides ours (its defaults); preloading them into
# kind avoids registry rate limits and slow first starts.
THIRD_PARTY_IMAGES ?= nats:2.11-alpine postgres:17-alpine mongo:8.0

KIND_CLUSTER ?= natstack
# At least the Kubernetes version the operator is built for (k8s-openapi v1_33).
KIND_NODE_IMAGE ?= kindest/node:v1.33.1
HELM_RELEASE ?= natstack
OPERATOR_NAMESPACE ?= natstack-system
STACK_NAMESPACE ?= natstack-demo
EXAMPLE ?= examples/minimal.yaml
# Each example's stack is named like its file.
STACK_NAME ?= $(basename $(notdir $(EXAMPLE)))
# kind-config.yaml maps the gateway's node port 30080 to this host port.
GATEWAY_URL ?= http://localhost:8080
E2E_TIMEOUT ?= 10m

# Extra flags for every image build, e.g. IMAGE_BUILD_FLAGS='--build-arg RUNTIME_IMAGE=...'.
IMAGE_BUILD_FLAGS ?=

IMAGES = $(foreach c,$(COMPONENTS),$(REGISTRY)/$(c):$(VERSION))

.PHONY: kind-up images $(addprefix image-,$(COMPONENTS)) base-images image-test kind-load deploy e2e kind-logs kind-down chart-test sync-crds

## kind-up: create the local kind cluster (idempotent)
kind-up:
	@if kind get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)'; then \
	  echo "kind cluster $(KIND_CLUSTER) already exists"; \
	else \
	  kind create cluster --name '$(KIND_CLUSTER)' --config kind-config.yaml --image '$(KIND_NODE_IMAGE)' --wait 120s; \
	fi
	kubectl cluster-info --context 'kind-$(KIND_CLUSTER)'

## images: build the five images, tagged <REGISTRY>/<component>:<VERSION> (docker, else podman)
images:
	@dev/scripts/images/build.sh '$(REGISTRY)' '$(VERSION)' $(COMPONENTS) -- $(IMAGE_BUILD_FLAGS)

# One image: make image-gateway. A static pattern rule: implicit rules never apply to .PHONY targets.
$(addprefix image-,$(COMPONENTS)): image-%:
	@dev/scripts/images/build.sh '$(REGISTRY)' '$(VERSION)' '$*' -- $(IMAGE_BUILD_FLAGS)

## base-images: make local stand-ins for the Dockerfile's base images (for machines with no registry)
base-images:
	@dev/scripts/images/base.sh

## image-test: build the base images and the five images, run and inspect each, then run examples/minimal.yaml from them (podman or docker)
image-test: setup
	@dev/scripts/images/base.sh
	@dev/scripts/images/build.sh '$(REGISTRY)' '$(VERSION)' $(COMPONENTS) -- $(IMAGE_BUILD_FLAGS)
	@$(VENV)/bin/python -B dev/scripts/images/check_images.py '$(REGISTRY)' '$(VERSION)' $(COMPONENTS)
	@# The rendered stack with the images as its workloads, through the gateway.
	@test -x "$${CARGO_TARGET_DIR:-target}/debug/stack-run" || $(CARGO) build -p stack-run --bin stack-run
	@dev/scripts/images/stack-check.sh examples/minimal.yaml

## kind-load: copy our images (and the third-party ones) into the kind nodes
kind-load:
	dev/scripts/images/kind-load.sh '$(KIND_CLUSTER)' $(IMAGES)
ifneq ($(strip $(THIRD_PARTY_IMAGES)),)
	dev/scripts/images/kind-load.sh '$(KIND_CLUSTER)' $(THIRD_PARTY_IMAGES)
endif

## deploy: install or upgrade the operator chart, then apply EXAMPLE
deploy:
	helm upgrade --install '$(HELM_RELEASE)' charts/natstack \
	  --namespace '$(OPERATOR_NAMESPACE)' --create-namespace \
	  --set image.registry='$(REGISTRY)' --set image.tag='$(VERSION)' \
	  --wait --timeout 5m
	kubectl create namespace '$(STACK_NAMESPACE)' --dry-run=client -o yaml | kubectl apply -f -
	kubectl apply --namespace '$(STACK_NAMESPACE)' -f '$(EXAMPLE)'
	@# Point the stack at the images just built, whatever REGISTRY and VERSION are.
	kubectl patch --namespace '$(STACK_NAMESPACE)' 'microservicestack/$(STACK_NAME)' --type merge \
	  -p '{"spec":{"registry":"$(REGISTRY)","version":"$(VERSION)"}}'

## e2e: wait for the stack to be Ready, check the API through the gateway, run the operator's cluster test
e2e:
	kubectl wait --namespace '$(STACK_NAMESPACE)' 'microservicestack/$(STACK_NAME)' \
	  --for=condition=Ready --timeout='$(E2E_TIMEOUT)'
	$(VENV)/bin/python -B dev/scripts/chart/e2e_http.py '$(GATEWAY_URL)'
	@# The operator's own cluster test, in a temporary namespace of its own.
	NATSTACK_REGISTRY='$(REGISTRY)' NATSTACK_VERSION='$(VERSION)' \
	  cargo test --package operator --test operator -- e2e:: --ignored --nocapture --test-threads=1

## kind-logs: export the cluster's logs to target/kind-logs (after a failure)
kind-logs:
	kind export logs --name '$(KIND_CLUSTER)' target/kind-logs

## kind-down: delete the kind cluster and everything in it
kind-down:
	kind delete cluster --name '$(KIND_CLUSTER)'

## chart-test: offline checks of the chart, the CRD copy, the examples and the Dockerfile
chart-test:
	@test -x '$(VENV)/bin/python' || { echo "no $(VENV)/bin/python: run the project setup first" >&2; exit 1; }
	@# Run every check, then fail if any failed, so one run shows all problems
	@# (-B: no __pycache__ left in the source tree).
	@status=0; for check in crd_sync chart examples dockerfile; do \
	  $(VENV)/bin/python -B dev/scripts/chart/check_$$check.py || status=1; \
	done; exit $$status

## sync-crds: copy the generated CRD, the operator's alert rules and its dashboard into the chart (after `make crds`)
sync-crds:
	@test -f crds/microservicestacks.yaml || { echo "crds/microservicestacks.yaml is missing: run make crds" >&2; exit 1; }
	cp crds/microservicestacks.yaml charts/natstack/files/microservicestacks.yaml
	mkdir -p charts/natstack/files/monitoring
	cp monitoring/rules/operator.rules.yaml monitoring/dashboards/operator.json charts/natstack/files/monitoring/
