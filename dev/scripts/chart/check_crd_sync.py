"""The chart's copy of the CRD must equal the generated crds/ file, and its
copies of the operator's alert rules and dashboard must equal monitoring/.

Helm cannot read files outside the chart, so charts/natstack/files/ keeps a
copy (`make sync-crds`); this check fails on any byte of drift, so the chart
never installs a CRD other than the one `make crds` generates.
"""

from __future__ import annotations

import difflib
import sys

from common import CHART_CRD, CRD, MONITORING_COPIES, Report, load_crd, rel


def drift(generated: str, copy: str, source=CRD, target=CHART_CRD) -> list[str]:
    """A unified diff of the two texts; empty when they are identical."""
    return list(
        difflib.unified_diff(
            generated.splitlines(), copy.splitlines(), rel(source), rel(target), lineterm="", n=1
        )
    )


def main() -> None:
    report = Report(f"chart CRD copy equals {rel(CRD)}")
    crd = load_crd(CRD)  # exits with "run make crds" when it does not exist
    report.ok(f"{rel(CRD)} holds the CRD {crd['metadata']['name']}")
    if not CHART_CRD.is_file():
        report.fail(f"{rel(CHART_CRD)} is missing: run `make sync-crds`")
        report.finish()
    generated, copy = CRD.read_text(), CHART_CRD.read_text()
    diff = drift(generated, copy)
    if diff:
        print("\n".join(diff[:40]))
    report.check(not diff, f"{rel(CHART_CRD)} is byte-identical", "drifted: run `make sync-crds`")
    for source, target in MONITORING_COPIES:
        if not target.is_file():
            report.fail(f"{rel(target)} is missing: run `make sync-crds`")
            continue
        diff = drift(source.read_text(), target.read_text(), source, target)
        if diff:
            print("\n".join(diff[:40]))
        report.check(not diff, f"{rel(target)} equals {rel(source)}", "drifted: run `make sync-crds`")

    # The comparison itself must be able to fail: one changed byte is drift.
    tampered = generated.replace("v1alpha1", "v1alpha2", 1)
    report.check(tampered != generated and bool(drift(generated, tampered)), "a one-word change counts as drift")
    report.finish()


if __name__ == "__main__":
    sys.exit(main())
