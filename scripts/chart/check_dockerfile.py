"""The Dockerfile builds only binaries that exist, and bakes in no secrets.

The Dockerfile's `ARG BINARIES` lists what `--build-arg BIN` may select; each
name must be a `[[bin]]` of the workspace package of the same name (the
images are `<registry>/<component>:<version>`), according to
`cargo metadata --no-deps`. mk/cluster.mk's COMPONENTS (what `make images`
builds) must be the same list.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

from common import ROOT, Report

DOCKERFILE = ROOT / "Dockerfile"
CLUSTER_MK = ROOT / "mk" / "cluster.mk"
SECRET_WORDS = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|API_?KEY|CREDENTIAL", re.IGNORECASE)


def declared_list(text: str, pattern: str, source: str) -> list[str]:
    match = re.search(pattern, text, re.MULTILINE)
    if not match:
        raise SystemExit(f"FAIL  cannot find {pattern!r} in {source}")
    return match.group(1).split()


def workspace_bins() -> dict[str, str]:
    """Every bin target of the workspace, mapped to its package."""
    out = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    bins = {}
    for package in json.loads(out)["packages"]:
        for target in package["targets"]:
            if "bin" in target["kind"]:
                bins[target["name"]] = package["name"]
    return bins


def missing_bins(names: list[str], bins: dict[str, str]) -> list[str]:
    """Names that are not a bin of the package with the same name."""
    return [name for name in names if bins.get(name) != name]


def secret_lines(text: str) -> list[str]:
    """ARG/ENV lines that would bake a credential into an image layer."""
    return [
        line.strip() for line in text.splitlines()
        if re.match(r"\s*(ARG|ENV)\s", line) and SECRET_WORDS.search(line)
    ]


def main() -> None:
    report = Report("Dockerfile builds only existing binaries, as a non-root image with no secrets")
    text = DOCKERFILE.read_text()
    names = declared_list(text, r'^ARG BINARIES="([^"]+)"', "Dockerfile")
    components = declared_list(CLUSTER_MK.read_text(), r"^COMPONENTS\s*:?=\s*(.+)$", "mk/cluster.mk")
    bins = workspace_bins()
    report.ok(f"Dockerfile may build: {' '.join(names)}")
    report.ok(f"workspace bin targets: {' '.join(f'{b} ({p})' for b, p in sorted(bins.items()))}")

    missing = missing_bins(names, bins)
    report.check(not missing, "every Dockerfile binary is a [[bin]] of the package of the same name",
                 f"not built by the workspace: {', '.join(missing)} (is its crate's main.rs / [[bin]] there?)")
    report.check(sorted(components) == sorted(names), "mk/cluster.mk COMPONENTS equals the Dockerfile's BINARIES",
                 f"{components} != {names}")
    report.check(re.search(r'--bin "\$\{BIN\}"', text) is not None, "the build stage builds exactly --bin ${BIN}")

    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.MULTILINE | re.IGNORECASE)
    report.check(len(stages) >= 2, f"multi-stage build ({len(stages)} stages)")
    report.check(all(not image.endswith(":latest") and ":" in image for image, _ in stages),
                 "every base image has an explicit, non-latest tag", str(stages))
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    report.check(bool(users) and re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", users[-1]) is not None,
                 "the runtime stage runs as a numeric non-root USER", f"USER lines: {users}")
    leaks = secret_lines(text)
    report.check(not leaks, "no ARG/ENV carries a credential", "; ".join(leaks))
    ignore = (ROOT / ".dockerignore").read_text().split()
    report.check("*" in ignore, ".dockerignore starts from nothing (allow-list), so local files stay out")

    # Each check must be able to fail.
    report.check(missing_bins(names + ["billing"], bins) == missing + ["billing"], "an unknown binary name is reported")
    report.check(bool(secret_lines('ENV JWT_PRIVATE_KEY=abc\nARG DB_PASSWORD')), "a credential in ENV/ARG is reported")
    report.finish()


if __name__ == "__main__":
    sys.exit(main())
