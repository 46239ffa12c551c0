# natstack: every workflow in one place. `make help` lists the targets.
#
# The two commands a newcomer needs:
#   make run    start the whole system on this machine (no Kubernetes)
#   make test   every check CI runs: format, lints, all tests against real servers, chart checks, images
# Both install what is missing first (dev/scripts/setup.sh).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
export PATH := $(HOME)/.cargo/bin:$(PATH)

CARGO ?= cargo
VENV ?= .venv

.PHONY: help setup build fmt fmt-check clippy deps-check docs-test rules-test nextest doctest doc-check test ci run stack-run render bench chaos chaos-fast observability-test crds manifests-test clean distclean

## help: list the targets
help:
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'

## setup: install what is missing (Debian packages, Rust components, .venv with test servers)
setup:
	@dev/scripts/setup.sh

## build: build every crate (debug)
build: setup
	$(CARGO) build --workspace --all-targets

## fmt: format the code
fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all --check

clippy:
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

nextest:
	$(CARGO) nextest run --workspace --all-features --no-tests=warn

doctest:
	$(CARGO) test --workspace --all-features --doc

## doc-check: build every crate's documentation with rustdoc's warnings as errors (broken links, links from public docs to private items)
doc-check:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --all-features

## deps-check: fail on a declared dependency no code uses (cargo-machete), or on test-only code in a shipped binary
deps-check:
	$(CARGO) machete
	@dev/scripts/deps/check-shipped.sh

## docs-test: the live API description on one whole system: /docs in headless Chromium, OpenAPI validation, a generated client's CRUD, schemathesis
docs-test: setup
	$(CARGO) build --workspace --bins
	dev/scripts/docs/docs-test.sh

## rules-test: promtool check rules and promtool test rules on every alert in monitoring/ (the stack rules as rendered for one stack)
rules-test: setup
	dev/scripts/monitoring/rules-test.sh

## test: format check, clippy -D warnings, unused dependencies, alert rule tests, all tests and doctests, rustdoc warnings, the quick resilience scenarios, the observability test against a real Prometheus, chart and manifest checks, API page, images
test: setup fmt-check clippy deps-check rules-test nextest doctest doc-check chaos-fast observability-test chart-test manifests-test docs-test image-test

## ci: what .ci/run runs (the same as test)
ci: test

## run: start the whole system on this machine (Ctrl-C stops it; data stays in .run/); natstack-run --help lists the variables
run: setup
	$(CARGO) build --bins -p launcher -p gateway -p auth -p customers -p products
	@"$${CARGO_TARGET_DIR:-target}/debug/natstack-run" $(RUN_ARGS)

## stack-run: run a stack file as the operator renders it, no cluster (STACK=examples/minimal.yaml)
STACK ?= examples/minimal.yaml
stack-run: setup
	$(CARGO) build --bins -p stack-run -p gateway -p auth -p customers -p products -p greeter
	"$${CARGO_TARGET_DIR:-target}/debug/stack-run" -f '$(STACK)' --bin-dir "$${CARGO_TARGET_DIR:-target}/debug" $(STACK_RUN_ARGS)

## render: print every object the operator would apply for STACK (placeholders for generated secrets)
render:
	@$(CARGO) run -q -p operator --bin operator -- render -f '$(STACK)' $(RENDER_ARGS)

## chaos: the resilience suite: faults under load against a whole system, one table (CHAOS_ARGS=--fast for the quick half)
chaos: setup
	$(CARGO) build --bins -p chaos -p gateway -p auth -p customers -p products
	"$${CARGO_TARGET_DIR:-target}/debug/chaos" $(CHAOS_ARGS)

chaos-fast: setup
	$(CARGO) build --bins -p chaos -p gateway -p auth -p customers -p products
	"$${CARGO_TARGET_DIR:-target}/debug/chaos" --fast

## observability-test: a whole system scraped by a real Prometheus with monitoring/rules loaded: targets up, every dashboard query answered, the alerts of a stopped service, bad logins and a refused flood raised; draws docs/observability.svg
observability-test: setup
	$(CARGO) build --bins -p observe -p gateway -p auth -p customers -p products
	"$${CARGO_TARGET_DIR:-target}/debug/observe"

## bench: measure the whole path on this machine (release build, a few minutes; table, JSON and SVG in target/bench/); BENCH_ARGS=--help
bench: setup
	$(CARGO) build --release -p gateway -p auth -p customers -p products -p bench -p stack-run
	"$${CARGO_TARGET_DIR:-target}/release/bench" $(BENCH_ARGS)

## bench-instructions: the gateway's (or COUNTED=products/customers: that service's) instructions per request, counted by valgrind's callgrind (repeatable where CPU time is not; a few minutes)
bench-instructions: setup
	$(CARGO) build --release --bins -p launcher -p gateway -p auth -p customers -p products
	dev/scripts/bench/instructions.sh

## crds: regenerate crds/ (and the chart's copy) from the operator's Rust types
crds:
	$(CARGO) run -q -p operator --bin crdgen > crds/microservicestacks.yaml
	@$(MAKE) --no-print-directory sync-crds

## manifests-test: validate every object the operator builds against the Kubernetes schemas
manifests-test: setup
	KUBERNETES_VALIDATE=$(VENV)/bin/kubernetes-validate operator/scripts/validate-manifests.sh

## clean: remove the data `make run` keeps between runs (.run/)
clean:
	rm -rf .run

## distclean: also remove build output and the Python tools
distclean: clean
	rm -rf target $(VENV)

include dev/cluster.mk
