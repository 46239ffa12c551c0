"""The images run as the operator runs them, and carry their binary and nothing else.

    check_images.py REGISTRY VERSION COMPONENT...

For every image <REGISTRY>/<component>:<VERSION> (built by dev/scripts/images/build.sh):

- its configuration: a numeric non-root USER, the binary as ENTRYPOINT, no credential in
  its environment or build history, a size within bounds;
- every layer, including files a later layer deletes: no .git, target/, Cargo registry,
  sources, .env, keys or kubeconfigs;
- its file system: exactly one executable (/usr/local/bin/app), no shell, the runtime files
  (glibc, libgcc, the CA bundle) and nothing else; no CA of this machine in the bundle;
- running it with a read-only root file system, every capability dropped and
  no-new-privileges (dev/scripts/images/podman.sh `run` under podman): `--help` exits 0; the
  process runs as a non-root uid with no effective capability; it answers /livez on
  HEALTH_ADDR (a real nats-server on loopback, databases unreachable); it exits 0 on SIGTERM.

The operator needs a Kubernetes API before it serves health: without one it must fail with
a clear error; with a kubeconfig whose API server is down it must still answer /livez.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chart"))
from common import ROOT, Report  # noqa: E402

PODMAN_SH = ROOT / "dev" / "scripts" / "images" / "podman.sh"
NATS_SERVER = Path(os.environ.get("VENV", ROOT / ".venv")) / "bin" / "nats-server"
# The largest image seen is about half this; a builder stage shipped by mistake is ~1 GB.
MAX_IMAGE_BYTES = 64 * 1024 * 1024
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
SECRET_WORDS = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|API_?KEY|CREDENTIAL", re.IGNORECASE)

# Paths no layer may hold: build context, build cache, toolchain, secrets.
FORBIDDEN = re.compile(
    r"(^|/)\.git(/|$)|(^|/)target/|(^|/)\.cargo(/|$)|cargo/registry|(^|/)rustup(/|$)"
    r"|(^|/)\.env|\.rs$|(^|/)Cargo\.(toml|lock)$|(^|/)src/|(^|/)\.ssh(/|$)|\.(pem|key)$"
    r"|kubeconfig|(^|/)\.kube(/|$)|(^|/)\.sqlx(/|$)"
)
# What a runtime image may hold besides the binary: glibc, libgcc, the CA bundle, the
# account files, and what distroless images add (licences, tzdata, package manifests).
ALLOWED = re.compile(
    r"^usr/local/bin/app$"
    r"|^etc/(passwd|group|nsswitch\.conf|os-release|hosts|hostname|resolv\.conf|host\.conf)$"
    r"|^etc/(services|protocols|ethertypes|rpc|debian_version|ld\.so\.conf|ld\.so\.cache)$"
    r"|^etc/ssl/certs/ca-certificates\.crt$"
    r"|^(usr/)?lib(64)?/(x86_64-linux-gnu/|aarch64-linux-gnu/)?[^/]+\.so(\.[0-9.]+)?$"
    r"|^usr/lib/(x86_64|aarch64)-linux-gnu/gconv/"
    r"|^usr/lib/os-release$|^usr/share/doc/[^/]+/copyright$|^usr/share/zoneinfo/"
    r"|^var/lib/dpkg/status\.d/|^run/\.containerenv$"
)
REQUIRED = {
    "usr/local/bin/app": "the binary",
    "etc/ssl/certs/ca-certificates.crt": "the CA bundle",
    "etc/passwd": "the account of the non-root user",
}
REQUIRED_LIBS = ("ld-linux-x86-64.so.2", "libc.so.6", "libgcc_s.so.1")
# Defects of the binaries (not of the images) that this test finds, reported to their owners;
# a known defect is printed instead of failing the test.
KNOWN_DEFECTS = {
    "operator": "kube-runtime's graceful shutdown waits for an initial list that never succeeds while "
                "the API server is unreachable; a second SIGTERM (or the kubelet's SIGKILL) stops it",
    "auth": "a SIGTERM while MongoDB is unreachable at start-up ends in 'auth service failed' (exit 1) "
            "once the server-selection timeout (5 s) passes",
}
SHELLS = ("bin/sh", "usr/bin/sh", "bin/bash", "usr/bin/bash", "bin/busybox", "usr/bin/busybox")


def sh(*args: str | Path, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], check=check, capture_output=capture, text=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


class Engine:
    """docker or podman, as dev/scripts/images/podman.sh picks it, with the run flags it uses."""

    def __init__(self) -> None:
        os.environ["CONTAINERS_CONF"] = str(ROOT / "dev" / "scripts" / "images" / "containers.conf")
        self.name = sh("bash", PODMAN_SH, "engine").stdout.strip()
        if self.name == "podman":
            self.run_prefix = [str(PODMAN_SH), "run"]
        else:
            self.run_prefix = [
                "docker", "run", "--rm", "--network", "host", "--read-only",
                "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            ]

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh(self.name, *args, check=check)

    def inspect(self, kind: str, name: str) -> dict:
        return json.loads(self(kind, "inspect", name).stdout)[0]

    def run_cmd(self, name: str, image: str, env: dict[str, str], volumes: list[str], args: list[str]) -> list[str]:
        cmd = [*self.run_prefix, "--name", name]
        cmd += [f"--env={key}={value}" for key, value in env.items()]
        cmd += [f"--volume={volume}" for volume in volumes]
        return [*cmd, image, *args]


class Nats:
    """A real nats-server on a free loopback port, for the binaries that connect at start-up."""

    def __init__(self, workdir: Path) -> None:
        if not NATS_SERVER.exists():
            raise SystemExit(f"FAIL  {NATS_SERVER} is missing: run `make setup`")
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.log = open(workdir / "nats.log", "w")
        self.proc = subprocess.Popen(
            [str(NATS_SERVER), "-a", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"FAIL  nats-server did not listen on {self.port} (log: {self.log.name})")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


def layer_members(engine: Engine, image: str, workdir: Path) -> tuple[list[tuple[int, list[str]]], list[str]]:
    """Each layer of the saved image (base first) as (size, paths), and all paths together."""
    archive = workdir / "image.tar"
    engine("image", "save", "-o", str(archive), image)
    layers = []
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))[0]
        for layer in manifest["Layers"]:
            member = outer.getmember(layer)
            with tarfile.open(fileobj=outer.extractfile(member), mode="r:*") as inner:
                names = [m.name.removeprefix("./") for m in inner.getmembers()]
            layers.append((member.size, names))
    archive.unlink()
    return layers, [name for _, names in layers for name in names]


def filesystem(engine: Engine, image: str) -> dict[str, tuple[tarfile.TarInfo, bytes]]:
    """The image's merged file system: every path with its header and first bytes (whole CA bundle)."""
    cid = engine("create", image).stdout.strip()
    try:
        export = subprocess.Popen([engine.name, "export", cid], stdout=subprocess.PIPE)
        files = {}
        with tarfile.open(fileobj=export.stdout, mode="r|") as tar:
            for info in tar:
                name = info.name.removeprefix("./").rstrip("/")
                data = b""
                if info.isfile():
                    handle = tar.extractfile(info)
                    data = handle.read() if name.endswith("ca-certificates.crt") else handle.read(20)
                files[name] = (info, data)
        export.wait()
        return files
    finally:
        engine("rm", "--force", cid, check=False)


def executables(files: dict[str, tuple[tarfile.TarInfo, bytes]]) -> list[str]:
    """Programs: ELF files that are not shared libraries, and executable scripts."""
    found = []
    for name, (info, data) in files.items():
        if not info.isfile():
            continue
        is_elf = data[:4] == b"\x7fELF"
        is_lib = ".so" in name.rsplit("/", 1)[-1]
        is_script = data[:2] == b"#!" and info.mode & 0o111
        if (is_elf and not is_lib) or is_script:
            found.append(name)
    return sorted(found)


def local_cas() -> list[bytes]:
    """This machine's own CA certificates (a TLS-inspecting proxy's, for one): no image may trust them."""
    pem = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
    certs = []
    for path in Path("/usr/local/share/ca-certificates").glob("**/*.crt"):
        certs += [b"".join(block.split()) for block in pem.findall(path.read_bytes())]
    return certs


def check_static(report: Report, engine: Engine, component: str, image: str, workdir: Path) -> int:
    """Configuration, layers and file system of one image; returns its size."""
    config = engine.inspect("image", image)
    size = int(config.get("Size") or 0)
    cfg = config.get("Config") or {}
    user = cfg.get("User", "")
    report.check(re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", user) is not None,
                 f"{component}: USER is a numeric non-root uid ({user!r})", "Kubernetes cannot verify runAsNonRoot")
    report.check(cfg.get("Entrypoint") == ["/usr/local/bin/app"],
                 f"{component}: ENTRYPOINT is /usr/local/bin/app", str(cfg.get("Entrypoint")))
    leaked_env = [e for e in cfg.get("Env") or [] if SECRET_WORDS.search(e)]
    report.check(not leaked_env, f"{component}: no credential in the image environment", "; ".join(leaked_env))
    history = engine("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout.splitlines()
    leaked_history = [h for h in history if SECRET_WORDS.search(h)]
    report.check(not leaked_history, f"{component}: no credential in the build history ({len(history)} steps)",
                 "; ".join(leaked_history))
    report.check(0 < size <= MAX_IMAGE_BYTES, f"{component}: size {mib(size)} (at most {mib(MAX_IMAGE_BYTES)})",
                 "a build stage or cache may have been shipped")

    layers, every_path = layer_members(engine, image, workdir)
    forbidden = sorted({p for p in every_path if FORBIDDEN.search(p)})
    report.check(not forbidden, f"{component}: no source, build cache, toolchain or secret in any of "
                 f"{len(layers)} layers ({', '.join(mib(s) for s, _ in layers)})",
                 f"found {', '.join(forbidden[:8])}{' ...' if len(forbidden) > 8 else ''}")

    files = filesystem(engine, image)
    programs = executables(files)
    report.check(programs == ["usr/local/bin/app"], f"{component}: exactly one program, /usr/local/bin/app",
                 f"programs: {programs}")
    shells = [s for s in SHELLS if s in files]
    report.check(not shells, f"{component}: no shell", f"found {shells}")
    missing = [f"{what} ({path})" for path, what in REQUIRED.items() if path not in files]
    names = {name.rsplit("/", 1)[-1] for name in files}
    missing += [lib for lib in REQUIRED_LIBS if lib not in names]
    report.check(not missing, f"{component}: has the runtime files (glibc, libgcc, CA bundle, passwd)",
                 f"missing {', '.join(missing)}")
    extra = sorted(name for name, (info, _) in files.items()
                   if not info.isdir() and not ALLOWED.search(name))
    report.check(not extra, f"{component}: nothing else ({sum(1 for i, _ in files.values() if not i.isdir())} files)",
                 f"unexpected {', '.join(extra[:10])}{' ...' if len(extra) > 10 else ''}")
    bundle = b"".join(files.get("etc/ssl/certs/ca-certificates.crt", (None, b""))[1].split())
    leaked_cas = [cert for cert in local_cas() if cert in bundle]
    report.check(not leaked_cas, f"{component}: the CA bundle holds no CA local to this machine",
                 f"{len(leaked_cas)} local CA(s) baked into the image")
    return size


def proc_status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, ""
    except OSError:
        return 0, ""


def check_help(report: Report, engine: Engine, component: str, image: str) -> None:
    name = f"natstack-image-test-{component}-help-{os.getpid()}"
    run = subprocess.run(engine.run_cmd(name, image, {}, [], ["--help"]),
                         capture_output=True, text=True, timeout=60)
    report.check(run.returncode == 0 and "Usage:" in run.stdout,
                 f"{component}: --help exits 0 under a read-only root, no capabilities",
                 f"exit {run.returncode}: {(run.stderr or run.stdout).strip()[-300:]}")


def check_running(report: Report, engine: Engine, component: str, image: str,
                  env: dict[str, str], volumes: list[str], workdir: Path) -> None:
    """Starts the image, checks its process and /livez, then stops it with SIGTERM."""
    health = free_port()
    env = {"HEALTH_ADDR": f"127.0.0.1:{health}", "LOG_FORMAT": "json", **env}
    name = f"natstack-image-test-{component}-{os.getpid()}"
    log_path = workdir / f"{component}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(engine.run_cmd(name, image, env, volumes, []), stdout=log, stderr=subprocess.STDOUT)

    def show_log() -> str:
        return "log:\n      " + "\n      ".join(log_path.read_text().strip().splitlines()[-12:])

    try:
        deadline = time.monotonic() + START_TIMEOUT
        status = 0
        while time.monotonic() < deadline and proc.poll() is None:
            status, _ = get(f"http://127.0.0.1:{health}/livez")
            if status == 200:
                break
            time.sleep(0.2)
        why = f"exited {proc.returncode}" if proc.returncode is not None else f"no answer in {START_TIMEOUT:.0f} s"
        if not report.check(status == 200, f"{component}: answers /livez on HEALTH_ADDR", f"{why} ({show_log()})"):
            return

        state = engine.inspect("container", name)
        process = proc_status(int(state["State"]["Pid"]))
        uids = set(process["Uid"].split())
        report.check(len(uids) == 1 and uids != {"0"},
                     f"{component}: runs as non-root uid {process['Uid'].split()[0]}", f"Uid: {process['Uid']}")
        report.check(int(process["CapEff"], 16) == 0 and int(process["CapBnd"], 16) == 0,
                     f"{component}: no capabilities (effective and bounding set empty)",
                     f"CapEff {process['CapEff']}, CapBnd {process['CapBnd']}")
        report.check(process.get("NoNewPrivs") == "1", f"{component}: no-new-privileges is set")
        report.check((state.get("HostConfig") or {}).get("ReadonlyRootfs") is True,
                     f"{component}: the root file system is read-only")

        # podman/docker pass the signal to the container's PID 1, the binary itself.
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
            stopped = proc.returncode == 0
            why = f"exit {proc.returncode} after {time.monotonic() - started:.1f} s"
        except subprocess.TimeoutExpired:
            stopped, why = False, f"still running {STOP_TIMEOUT:.0f} s after SIGTERM"
        what = f"{component}: exits 0 within {STOP_TIMEOUT:.0f} s of SIGTERM"
        if not stopped and component in KNOWN_DEFECTS:
            print(f"  known {what}: {why}\n        ({KNOWN_DEFECTS[component]})")
        else:
            report.check(stopped, what, f"{why} ({show_log()})")
            if stopped and component in KNOWN_DEFECTS:
                print(f"  note  {component} no longer shows its known defect: remove it from KNOWN_DEFECTS")
    finally:
        if proc.poll() is None:
            engine("kill", name, check=False)
            proc.wait()


def check_operator_without_api(report: Report, engine: Engine, image: str) -> None:
    """With no Kubernetes API configured at all, the operator fails at once with a clear error."""
    name = f"natstack-image-test-operator-noapi-{os.getpid()}"
    run = subprocess.run(engine.run_cmd(name, image, {"LOG_FORMAT": "pretty"}, [], []),
                         capture_output=True, text=True, timeout=60)
    output = (run.stdout + run.stderr).strip()
    report.check(run.returncode != 0 and "kubernetes" in output.lower(),
                 "operator: without a Kubernetes API it exits non-zero, naming the cause",
                 f"exit {run.returncode}: {output[-300:]}")
    cause = next((line.strip() for line in output.splitlines() if line.strip().startswith("0:")), "")
    if cause:
        print(f"        ({cause[:200]})")


def kubeconfig(workdir: Path) -> Path:
    """A kubeconfig whose API server is a closed loopback port."""
    path = workdir / "kubeconfig"
    path.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: down
  cluster: {{server: "http://127.0.0.1:{free_port()}"}}
users:
- name: nobody
  user: {{}}
contexts:
- name: down
  context: {{cluster: down, user: nobody}}
current-context: down
""")
    path.chmod(0o644)
    return path


def main() -> None:
    if len(sys.argv) < 4:
        raise SystemExit(f"usage: {sys.argv[0]} REGISTRY VERSION COMPONENT...")
    registry, version, components = sys.argv[1], sys.argv[2], sys.argv[3:]
    engine = Engine()
    report = Report(f"images run non-root, read-only, with nothing but their binary ({engine.name})")
    sizes = {}
    with tempfile.TemporaryDirectory(prefix="natstack-image-test-") as tmp:
        workdir = Path(tmp)
        nats = Nats(workdir)
        try:
            for component in components:
                image = f"{registry}/{component}:{version}"
                if engine("image", "inspect", image, check=False).returncode != 0:
                    report.fail(f"{component}: image {image} does not exist (make images)")
                    continue
                started = time.monotonic()
                sizes[component] = check_static(report, engine, component, image, workdir)
                check_help(report, engine, component, image)
                env = {"NATS_URL": nats.url}
                volumes: list[str] = []
                if component == "operator":
                    check_operator_without_api(report, engine, image)
                    config = kubeconfig(workdir)
                    env = {"KUBECONFIG": "/var/run/natstack/kubeconfig"}
                    volumes = [f"{config}:/var/run/natstack/kubeconfig:ro"]
                elif component == "gateway":
                    env["LISTEN_ADDR"] = f"127.0.0.1:{free_port()}"
                elif component == "auth":
                    env["MONGODB_URL"] = f"mongodb://127.0.0.1:{free_port()}"
                else:
                    env["DATABASE_URL"] = f"postgres://natstack@127.0.0.1:{free_port()}/{component}"
                check_running(report, engine, component, image, env, volumes, workdir)
                print(f"        ({component}: {time.monotonic() - started:.1f} s)")
        finally:
            nats.stop()
    if sizes:
        print("  image sizes: " + ", ".join(f"{c} {mib(s)}" for c, s in sizes.items()))
    report.finish()


if __name__ == "__main__":
    sys.exit(main())
