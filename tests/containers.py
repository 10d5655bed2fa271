"""Podman for the container tier (`make test-docker`, tests/test_docker.py): engine settings, the
base images made locally, and the containers a test runs (each removed afterwards).

No registry is reachable, so nothing is pulled. The images a rendered Dockerfile starts FROM are
made here under those exact names and cached in a directory this suite owns (``CACHE``, by
default ``~/.cache/fastapi-template/containers``; ``TEMPLATE_CONTAINER_CACHE`` moves it):

- ``python:X-slim``: a minbase Debian tree of the suite that ships Python X (``mmdebstrap``,
  python3 and python-is-python3, no docs, man pages or locales), imported with the official
  image's PATH and LANG. Its python is /usr/bin/python3 where the official image has
  /usr/local/bin/python: the Dockerfile names neither. The host's CA bundle replaces Debian's
  (the package proxy of this machine has its own CA) and ``SSL_CERT_FILE`` points uv at it.
- ``ghcr.io/astral-sh/uv:<tag>``: ``/uv`` and ``/uvx`` from the uv wheel of that version on
  PyPI, in an image of nothing else, as the official one. The musllinux wheel's binaries are
  static, like the official image's (the manylinux ones need glibc's loader).

Podman keeps its images, build cache and volumes in ``CACHE/storage`` (its own storage.conf), the
builds' cache mounts (uv's wheels) in ``CACHE/tmp``, and runs with the settings of
``CACHE/containers.conf``: runc and cgroupfs (crun refuses this
machine's hybrid cgroups), ulimits no higher than the machine allows, host networking (a bridge
network would change the host firewall) and no pulls. Without systemd, podman logs that it
cannot time an image's HEALTHCHECK and goes on: the tests run the check with
``podman healthcheck run``. ``python -m tests.containers`` makes the
base images (the first step of `make test-docker`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import json
import os
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.facts import facts
from tests.paths import ROOT

CACHE = Path(
    os.environ.get("TEMPLATE_CONTAINER_CACHE")
    or Path.home() / ".cache" / "fastapi-template" / "containers"
)
# Podman's run-time state (locks, container state): not kept between boots.
RUN_ROOT = Path("/run/fastapi-template-podman")

# The Debian suite that ships each Python: the python:X-slim base images are made from it.
# (No Debian suite ships 3.12: a 3.12 project's image cannot be built here.)
DEBIAN_SUITES = {"3.11": "bookworm", "3.13": "trixie"}
# The official python images' PATH (their python is in /usr/local/bin; Debian's in /usr/bin).
OFFICIAL_PATH = "/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_CA_BUNDLE = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
# Prefix of every container, volume and image tag the suite makes.
PREFIX = "tplc"


def dockerfile_template() -> str:
    return next((ROOT / "template").glob("*Dockerfile*.jinja")).read_text()


def uv_image() -> str:
    """The uv image of the rendered Dockerfile's uv stage (pins/Dockerfile), e.g.
    ``ghcr.io/astral-sh/uv:0.13``."""
    assert "FROM {{ uv_image }} AS uv" in dockerfile_template()
    assert facts.UV_IMAGE.startswith("ghcr.io/astral-sh/uv:"), facts.UV_IMAGE
    return str(facts.UV_IMAGE)


def python_image(version: str) -> str:
    return f"docker.io/library/python:{version}-slim"


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------
def engine_env() -> dict[str, str]:
    """Variables that point podman (and podman-compose, make) at the suite's settings."""
    conf, storage = CACHE / "containers.conf", CACHE / "storage.conf"
    CACHE.mkdir(parents=True, exist_ok=True)
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = 65536 if nofile == resource.RLIM_INFINITY else nofile
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    nproc = 4096 if nproc == resource.RLIM_INFINITY else min(nproc, 4096)
    settings = f"""\
# Written by tests/containers.py for `make test-docker`.
[containers]
netns = "host"
default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
pull_policy = "never"
tmp_dir = "{RUN_ROOT / "libpod"}"
"""
    storage_settings = f"""\
# Written by tests/containers.py for `make test-docker`.
[storage]
driver = "overlay"
graphroot = "{CACHE / "storage"}"
runroot = "{RUN_ROOT / "storage"}"
"""
    for path, text in ((conf, settings), (storage, storage_settings)):
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    # podman's temporary files, and the build's cache mounts (uv's cache of the wheels)
    (CACHE / "tmp").mkdir(exist_ok=True)
    return {
        "CONTAINERS_CONF": str(conf),
        "CONTAINERS_STORAGE_CONF": str(storage),
        "TMPDIR": str(CACHE / "tmp"),
    }


def podman(
    *args: str, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *args],
        env={**os.environ, **engine_env()},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def image_exists(name: str) -> bool:
    return podman("image", "exists", name, check=False).returncode == 0


# --------------------------------------------------------------------------------------------
# Base images
# --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """One process at a time (xdist workers, a concurrent `make test-docker`)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def debian_mirrors() -> tuple[str, str]:
    """The Debian archive and security mirrors of the machine's apt sources."""
    uris: list[str] = []
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        uris += re.findall(r"^URIs:\s*(\S+)", path.read_text(), re.MULTILINE)
    lists = [Path("/etc/apt/sources.list"), *sorted(sources.glob("*.list"))]
    for path in lists:
        if path.is_file():
            uris += re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", path.read_text(), re.MULTILINE)
    archive = next((u for u in uris if u.rstrip("/").endswith("/debian")), None)
    security = next((u for u in uris if u.rstrip("/").endswith("/debian-security")), None)
    return (
        archive or "http://deb.debian.org/debian",
        security or "http://deb.debian.org/debian-security",
    )


def _python_tree(version: str, tarball: Path) -> None:
    suite = DEBIAN_SUITES.get(version)
    if suite is None:
        raise AssertionError(
            f"no Debian suite ships Python {version} (known: {sorted(DEBIAN_SUITES)}): "
            "its python:X-slim base image cannot be made here"
        )
    archive, security = debian_mirrors()
    partial = tarball.with_suffix(".partial.tar")
    excluded = [
        f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("man", "doc", "locale", "info")
    ]
    cmd = [
        "mmdebstrap",
        "--quiet",
        "--variant=minbase",
        # merged /usr without the usrmerge package (and the perl it needs)
        "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
        # what the official python:X-slim image has besides Python
        "--include=python3,python-is-python3,ca-certificates,netbase,tzdata",
        # no fsync per file (the official Debian images build so too)
        "--dpkgopt=force-unsafe-io",
        *excluded,
        f"--customize-hook=upload {HOST_CA_BUNDLE} /etc/ssl/certs/ca-certificates.crt",
        suite,
        str(partial),
        f"deb {archive} {suite} main",
        f"deb {archive} {suite}-updates main",
        f"deb {security} {suite}-security main",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise AssertionError(f"mmdebstrap failed:\n{result.stdout}\n{result.stderr}")
    partial.replace(tarball)


def _uv_tree(tag: str, tarball: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        download = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            "musllinux_1_1_x86_64",
            "--dest",
            tmp,
            f"uv=={tag}.*",
        ]
        subprocess.run(download, check=True, capture_output=True, timeout=300)
        (wheel,) = Path(tmp).glob("uv-*.whl")
        root = Path(tmp) / "root"
        root.mkdir()
        with zipfile.ZipFile(wheel) as archive:
            for name in ("uv", "uvx"):
                (member,) = [m for m in archive.namelist() if m.endswith(f".data/scripts/{name}")]
                (root / name).write_bytes(archive.read(member))
                (root / name).chmod(0o755)
        partial = tarball.with_suffix(".partial.tar")
        subprocess.run(
            ["tar", "--owner=0", "--group=0", "-C", str(root), "-cf", str(partial), "uv", "uvx"],
            check=True,
        )
        partial.replace(tarball)


def ensure_base_images(python_versions: Sequence[str]) -> dict[str, float]:
    """Make (or take from the cache) every base image; returns the seconds each one took."""
    timings: dict[str, float] = {}
    base = CACHE / "base"
    base.mkdir(parents=True, exist_ok=True)
    with _locked("base-images"):
        missing = [v for v in sorted(set(python_versions)) if not image_exists(python_image(v))]
        tarballs = {v: base / f"python-{v}-{DEBIAN_SUITES.get(v, 'none')}.tar" for v in missing}
        start = time.monotonic()
        # the Debian trees are made side by side: mostly downloads and unpacking
        with concurrent.futures.ThreadPoolExecutor() as pool:
            made = [
                pool.submit(_python_tree, version, tarball)
                for version, tarball in tarballs.items()
                if not tarball.exists()
            ]
            for future in made:
                future.result()
        for version, tarball in tarballs.items():
            name = python_image(version)
            changes = [
                f"ENV PATH={OFFICIAL_PATH}",
                "ENV LANG=C.UTF-8",
                "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
                'CMD ["python3"]',
            ]
            podman("import", *(f"--change={c}" for c in changes), str(tarball), name)
            timings[name] = time.monotonic() - start
        name = uv_image()
        if not image_exists(name):
            start = time.monotonic()
            tag = name.rsplit(":", 1)[1]
            tarball = base / f"uv-{tag}.tar"
            if not tarball.exists():
                _uv_tree(tag, tarball)
            podman("import", str(tarball), name)
            timings[name] = time.monotonic() - start
    return timings


# --------------------------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------------------------
def unique(kind: str) -> str:
    return f"{PREFIX}-{kind}-{secrets.token_hex(5)}"


@dataclass
class Container:
    name: str

    def logs(self) -> str:
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def state(self) -> dict[str, object]:
        out = podman("inspect", "--format", "{{json .State}}", self.name).stdout
        state: dict[str, object] = json.loads(out)
        return state

    def running(self) -> bool:
        return self.state().get("Status") == "running"

    def exec(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name, *cmd, check=False)

    def stop(self, timeout: int) -> tuple[int, float]:
        """SIGTERM, SIGKILL after `timeout` seconds; the exit code and the seconds it took."""
        start = time.monotonic()
        podman("stop", "--time", str(timeout), self.name, timeout=timeout + 60)
        elapsed = time.monotonic() - start
        code = int(podman("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout)
        return code, elapsed


def run_args(
    env: dict[str, str], volumes: dict[str, str] | None = None, read_only: bool = True
) -> list[str]:
    """Options of every container the tests run: host networking; as Kubernetes runs it, a
    read-only root filesystem with only /tmp writable (podman's own /run and /var/tmp tmpfs
    are off: Docker's --read-only has none)."""
    args = ["--network", "host"]
    if read_only:
        args += ["--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp"]
    for volume, target in (volumes or {}).items():
        args += ["--volume", f"{volume}:{target}"]
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    return args


@contextlib.contextmanager
def container(
    image: str,
    command: Sequence[str] = (),
    *,
    env: dict[str, str],
    volumes: dict[str, str] | None = None,
    options: Sequence[str] = (),
    kind: str = "app",
) -> Iterator[Container]:
    """A detached container of `image`, removed afterwards."""
    name = unique(kind)
    podman("run", "--detach", "--name", name, *run_args(env, volumes), *options, image, *command)
    try:
        yield Container(name)
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)


def run_once(
    image: str,
    command: Sequence[str],
    *,
    env: dict[str, str],
    volumes: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run `command` in a fresh container of `image` to completion (removed afterwards)."""
    args = ["run", "--rm", *run_args(env, volumes), image, *command]
    return podman(*args, check=False, timeout=timeout)


@contextlib.contextmanager
def volume() -> Iterator[str]:
    name = unique("data")
    podman("volume", "create", name)
    try:
        yield name
    finally:
        podman("volume", "rm", "--force", name, check=False)


def prune() -> None:
    """Drop what earlier runs left: containers of the suite, and images untagged for a day (the
    build cache of this run's images is kept)."""
    listed = podman("ps", "--all", "--format", "{{.Names}}", check=False).stdout.split()
    stale = [name for name in listed if name.startswith(f"{PREFIX}-")]
    if stale:
        podman("rm", "--force", "--time", "0", *stale, check=False)
    podman("image", "prune", "--force", "--filter", "until=24h", check=False)


def main() -> None:
    from tests.answers import DOCKER_SETS, effective

    versions = sorted({effective(name)["python_version"] for name in DOCKER_SETS})
    start = time.monotonic()
    prune()
    made = ensure_base_images(versions)
    for name, seconds in made.items():
        print(f"made {name} in {seconds:.0f} s")
    names = [python_image(v) for v in versions] + [uv_image()]
    print(f"base images ready in {time.monotonic() - start:.0f} s ({CACHE}): {', '.join(names)}")


if __name__ == "__main__":
    main()
