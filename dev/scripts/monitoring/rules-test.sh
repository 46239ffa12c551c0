#!/usr/bin/env bash
# `make rules-test`: `promtool check rules` and `promtool test rules` on every alerting rule in
# monitoring/rules/, with the unit tests in monitoring/tests/.
#
# The stack rules hold the placeholders __NAMESPACE__ and __STACK__, which the operator
# replaces per stack; they are checked and tested as rendered for stack `demo` in namespace
# `shop` (the values monitoring/tests/stack.test.yaml expects), from a copy of monitoring/ in a
# throw-away directory, so the tests' `../rules/` paths resolve to the rendered copy.
#
# Env: PROMTOOL (default: promtool on PATH; Debian's `prometheus` package, make setup)
set -euo pipefail
cd "$(dirname "$0")/../../.."

promtool=${PROMTOOL:-promtool}
command -v "$promtool" >/dev/null || {
  echo "promtool not found: run make setup (installs Debian's prometheus)" >&2
  exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rules" "$work/tests"
for rules in monitoring/rules/*.yaml; do
  sed -e 's/__NAMESPACE__/shop/g' -e 's/__STACK__/demo/g' "$rules" >"$work/rules/$(basename "$rules")"
done
cp monitoring/tests/*.test.yaml "$work/tests/"

if grep -l '__NAMESPACE__\|__STACK__' "$work"/rules/*.yaml; then
  echo "placeholders left after rendering" >&2
  exit 1
fi

# Every alert has a `for:`, a severity, a summary, a description and a runbook_url pointing at
# its own section of docs/observability.md, and a unit test.
failed=0
for rules in monitoring/rules/*.yaml; do
  alerts=$(grep -c -- '- alert: ' "$rules" || true)
  for key in 'for: ' 'severity: ' 'summary: ' 'description: ' 'runbook_url: '; do
    n=$(grep -c -- "^ *$key" "$rules" || true)
    [ "$n" = "$alerts" ] || { echo "$rules: $alerts alerts but $n '$key'" >&2; failed=1; }
  done
  for alert in $(sed -n 's/^ *- alert: *//p' "$rules"); do
    anchor=$(tr '[:upper:]' '[:lower:]' <<<"$alert")
    grep -q "runbook_url: \"https://github.com/natstack/natstack/blob/main/docs/observability.md#$anchor\"" "$rules" ||
      { echo "$alert: no runbook_url to #$anchor" >&2; failed=1; }
    grep -qx "### $alert" docs/observability.md ||
      { echo "$alert: no runbook section in docs/observability.md" >&2; failed=1; }
    grep -q "alertname: $alert\$" monitoring/tests/*.test.yaml ||
      { echo "$alert: no unit test in monitoring/tests/" >&2; failed=1; }
  done
done
[ "$failed" = 0 ]
"$promtool" check rules "$work"/rules/*.yaml
(cd "$work/tests" && "$promtool" test rules ./*.test.yaml)
