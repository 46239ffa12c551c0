"""The Dockerfile builds only binaries that exist, and bakes in no secrets.

The Dockerfile's `ARG BINARIES` lists what `--build-arg BIN` may select; each
name must be a `[[bin]]` of the workspace package of the same name (the
images are `<registry>/<component>:<version>`), according to
`cargo metadata --no-deps`. dev/cluster.mk's COMPONENTS (what `make images`
builds) must be the same list. Base images are build arguments whose defaults
are pinned public images (dev/scripts/images/base.sh makes local stand-ins under
those names); dev/scripts/images/check_images.py builds and runs the images.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from common import ROOT, Report

DOCKERFILE = ROOT / "Dockerfile"
CLUSTER_MK = ROOT / "dev" / "cluster.mk"
# Files outside the crates that the operator embeds with include_str! (the alert rules and
# dashboards of monitoring/): the build fails without them in the context.
EMBEDDED = ["monitoring/rules/stack.rules.yaml", "monitoring/dashboards/overview.json"]
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


def arg_defaults(text: str) -> dict[str, str]:
    """The default of every `ARG NAME=value` (quotes removed)."""
    return {name: value.strip('"') for name, value in re.findall(r"^ARG\s+(\w+)=(\S+|\"[^\"]*\")\s*$", text, re.MULTILINE)}


def base_images(text: str) -> list[str]:
    """The images the stages start from, build arguments resolved; stage references left out."""
    args = arg_defaults(text)
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.MULTILINE | re.IGNORECASE)
    aliases = {alias for _, alias in stages if alias}
    resolve = lambda image: re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), image)  # noqa: E731
    return [resolve(image) for image, _ in stages if image not in aliases]


def ignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """.dockerignore lines as (excluded?, regex), in order; the last rule that matches wins."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        # A pattern that matches a directory matches everything under it.
        rules.append((not negate, re.compile(f"^{regex}(/.*)?$")))
    return rules


def in_context(rules: list[tuple[bool, re.Pattern[str]]], path: str) -> bool:
    """Whether docker/podman send `path` (relative to the root) in the build context."""
    excluded = False
    for exclude, regex in rules:
        if regex.match(path):
            excluded = exclude
    return not excluded


def workspace_manifests() -> list[str]:
    """Cargo.toml of every workspace member, relative to the root."""
    out = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return sorted(str(Path(p["manifest_path"]).relative_to(ROOT)) for p in json.loads(out)["packages"])


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
    components = declared_list(CLUSTER_MK.read_text(), r"^COMPONENTS\s*:?=\s*(.+)$", "dev/cluster.mk")
    bins = workspace_bins()
    report.ok(f"Dockerfile may build: {' '.join(names)}")
    report.ok(f"workspace bin targets: {' '.join(f'{b} ({p})' for b, p in sorted(bins.items()))}")

    missing = missing_bins(names, bins)
    report.check(not missing, "every Dockerfile binary is a [[bin]] of the package of the same name",
                 f"not built by the workspace: {', '.join(missing)} (is its crate's main.rs / [[bin]] there?)")
    report.check(sorted(components) == sorted(names), "dev/cluster.mk COMPONENTS equals the Dockerfile's BINARIES",
                 f"{components} != {names}")
    report.check(re.search(r"for bin in \$\{BINARIES\}; do selection=.*--bin \$\{bin\}", text) is not None,
                 "the build stage compiles exactly the BINARIES, each with --bin")
    report.check(re.search(r'install -D -m 0755 "/out/\$\{BIN\}"', text) is not None,
                 "the image gets only the binary BIN picks")

    stages = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE | re.IGNORECASE)
    bases = base_images(text)
    report.check(len(stages) >= 2, f"multi-stage build ({len(stages)} stages, base images: {' '.join(bases)})")
    report.check(all(re.fullmatch(r"[\w.-]+(:\d+)?/[\w./-]+:[\w.-]+", image) and not image.endswith(":latest")
                     for image in bases),
                 "every base image is a public image with an explicit, non-latest tag", str(bases))
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    report.check(bool(users) and re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", users[-1]) is not None,
                 "the runtime stage runs as a numeric non-root USER", f"USER lines: {users}")
    leaks = secret_lines(text)
    report.check(not leaks, "no ARG/ENV carries a credential", "; ".join(leaks))
    ignore_text = (ROOT / ".dockerignore").read_text()
    report.check("*" in ignore_text.split(), ".dockerignore starts from nothing (allow-list), so local files stay out")
    rules = ignore_rules(ignore_text)
    needed = ["Cargo.toml", "Cargo.lock", *workspace_manifests()]
    needed += [f"{Path(m).parent}/src/main.rs" for m in needed[2:]]
    left_out = [path for path in needed if not in_context(rules, path)]
    report.check(not left_out, f"the build context holds every workspace member ({len(needed) - 2} files checked)",
                 f".dockerignore leaves out {', '.join(left_out)}: cargo cannot load the workspace")
    unembedded = [path for path in EMBEDDED if not in_context(rules, path)]
    report.check(not unembedded, "the build context holds the files the operator embeds (monitoring/)",
                 f".dockerignore leaves out {', '.join(unembedded)}: the operator cannot compile")
    local = [".env", "gateway/.env.local", ".git/config", "target/release/gateway", "operator/target/x", ".run/pg/x"]
    sent = [path for path in local if in_context(rules, path)]
    report.check(not sent, "local state (.env, .git, target/, .run/) stays out of the build context", ", ".join(sent))

    # Each check must be able to fail.
    report.check(missing_bins(names + ["billing"], bins) == missing + ["billing"], "an unknown binary name is reported")
    report.check(bool(secret_lines('ENV JWT_PRIVATE_KEY=abc\nARG DB_PASSWORD')), "a credential in ENV/ARG is reported")
    without_dev = ignore_rules(ignore_text.replace("!dev/", ""))
    report.check(not in_context(without_dev, "dev/bench/Cargo.toml") and in_context(rules, "dev/bench/src/main.rs"),
                 "a workspace member left out of the build context is reported")
    without_monitoring = ignore_rules(ignore_text.replace("!monitoring/", ""))
    report.check(not in_context(without_monitoring, EMBEDDED[0]), "an embedded file left out of the build context is reported")
    report.check(base_images("ARG B=x/y:latest\nFROM ${B} AS b\nFROM b\nFROM z") == ["x/y:latest", "z"],
                 "base images are read through build arguments, stage references left out")
    report.finish()


if __name__ == "__main__":
    sys.exit(main())
