"""`make bench`: render times, and the everything-on project next to a bare FastAPI app.

    .venv/bin/python bench/run.py [--seconds 8] [--connections 32] [--items 200000]

1. Times `copier copy` of the defaults and of presets/everything.yml.
2. Serves the everything-on project (`python -m <package> serve`: one uvicorn worker, its
   production settings, access log on) on PostgreSQL and Redis, and bench/bare_app.py with the
   same uvicorn options, each pinned to CPU 0 while wrk runs on CPU 1.
3. For each row, wrk (one thread, 32 connections, a warm-up then a bounded run) against the bare
   app, then against the project; prints one table with requests per second, p99 and ratios,
   and whether each target of docs/benchmarks.md is met. Exits 1 when one is not.
4. The footprint of a worker: resident memory after a warm-up, cold start (process start to
   the first `/health/live` 200) and `import <package>.main`, for the defaults project and the
   everything-on one, the bare app beside them; and the render times as a target row.

Only 127.0.0.1 is ever a target. Nothing is asserted in the test suite from these numbers.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = sys.executable
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-At"]
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench-password-1234"
CACHED_IDS = 100  # the cached rows cycle through these items, read once before measuring
ROW_LIVE = "GET /health/live"
ROW_READ = "authenticated item read (PostgreSQL)"
ROW_CACHED = "the same read, cached (Redis)"
ROW_LIMITED = "rate-limited route (Redis)"
ROW_LISTS = "lists"
ROW_MEMORY = "resident memory per worker (MB)"
ROW_START = "cold start to /health/live 200 (s)"
ROW_IMPORT = "import <package>.main (s)"
ROW_RENDER = "render, copier copy (s)"
ROW_TRACING = "tracing on vs off"
ROWS = {"live": ROW_LIVE, "read": ROW_READ, "cached": ROW_CACHED, "limited": ROW_LIMITED,
        "lists": ROW_LISTS, "memory": ROW_MEMORY, "start": ROW_START, "import": ROW_IMPORT,
        "render": ROW_RENDER, "tracing": ROW_TRACING}  # fmt: skip
WRK_ROWS = (ROW_LIVE, ROW_READ, ROW_CACHED, ROW_LIMITED)
FOOTPRINT_ROWS = (ROW_MEMORY, ROW_START, ROW_IMPORT, ROW_RENDER)


@dataclass
class Result:
    requests: int
    duration_us: int
    p50_us: int
    p99_us: int
    max_us: int
    socket_errors: int
    non_2xx: int
    hits: int
    misses: int
    last_id: int
    cpu_us: float = 0.0  # the server's CPU time (user + system) per request during the run

    @property
    def rps(self) -> float:
        return self.requests / (self.duration_us / 1e6)


def median(results: list[Result]) -> Result:
    """The run of median throughput (its latencies come with it), the failures of all runs."""
    ordered = sorted(results, key=lambda result: result.rps)
    middle = ordered[len(ordered) // 2]
    return Result(**{
        **middle.__dict__,
        "socket_errors": sum(result.socket_errors for result in results),
        "non_2xx": sum(result.non_2xx for result in results),
        "hits": sum(result.hits for result in results),
        "misses": sum(result.misses for result in results),
    })  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(cpu: int, command: list[str]) -> list[str]:
    """Pin a process to one CPU when the machine has two and taskset exists."""
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cpu), *command]
    return command


def render(destination: Path, *data: str) -> float:
    settings = destination.parent / "copier-settings.yml"
    settings.write_text("{}\n")
    env = {**os.environ, "COPIER_SETTINGS_PATH": str(settings)}
    start = time.perf_counter()
    subprocess.run(
        [str(Path(PYTHON).parent / "copier"), "copy", "--trust", "--defaults", "--quiet",
         "--vcs-ref", "HEAD", *data, str(ROOT), str(destination)],
        check=True, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - start


@contextlib.contextmanager
def database() -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    subprocess.run([*PSQL, "-d", "postgres", "-c", f'CREATE DATABASE "{name}"'], check=True)
    try:
        yield name
    finally:
        subprocess.run(
            [*PSQL, "-d", "postgres", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
            check=False,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL when the process is not gone within 15 s."""
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def server(
    command: list[str], cwd: Path, env: dict[str, str], url: str, log: Path, cpu: int | None = 0
) -> Iterator[int]:
    """A server started, answering 200 at `url`, pinned to `cpu` (None: on every CPU)."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command if cpu is None else pinned(cpu, command),
            cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    sys.exit(f"{command} exited: see {log}\n{log.read_text()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url, timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    sys.exit(f"{url} did not answer 200 within 30 s: see {log}")
                time.sleep(0.2)
            yield process.pid
        finally:
            stop(process)


def wrk(url: str, path: str, seconds: int, connections: int, headers: dict[str, str],
        first: int = 1, count: int = 0, pid: int = 0) -> Result:  # fmt: skip
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(BENCH / "wrk.lua")]  # fmt: skip
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command += [url, "--", path, str(first), str(count)]
    cpu_before = cpu_seconds(pid) if pid else 0.0
    output = subprocess.run(pinned(1, command), check=True, capture_output=True, text=True)
    cpu = cpu_seconds(pid) - cpu_before if pid else 0.0
    line = next(line for line in output.stdout.splitlines() if line.startswith("{"))
    result = Result(**json.loads(line))
    result.cpu_us = cpu * 1e6 / max(result.requests, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="measured seconds per run")
    parser.add_argument("--rounds", type=int, default=9, help="measured runs per side and row")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured seconds before each")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--items", type=int, default=1_000_000,
                        help="rows seeded (`<package> seed`): uncached reads and the list rows")  # fmt: skip
    parser.add_argument("--plans", type=Path,
                        help="write EXPLAIN (ANALYZE, BUFFERS) of the list rows' queries here")  # fmt: skip
    parser.add_argument("--verbose", action="store_true", help="print every run")
    parser.add_argument("--starts", type=int, default=FOOTPRINT_RUNS,
                        help="cold starts and imports per project (the median is shown)")  # fmt: skip
    parser.add_argument(
        "--rows",
        type=lambda value: [ROWS[name] for name in value.split(",")],
        help="only these rows, comma-separated: live, read, cached, limited, lists, memory, "
        "start, import, render, tracing (all by default)",
    )
    parser.add_argument(
        "--project",
        type=Path,
        help="measure this rendered everything-on project instead of rendering one (no render "
        "times, no defaults project)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="write py-spy profiles (raw stacks) of each row's first measured run, both sides",
    )
    args = parser.parse_args(argv)
    for tool in ("wrk", "psql"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed: run `make system` (it installs wrk and psql)")

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        defaults: Path | None = None
        if args.project:
            project, render_defaults, render_everything = args.project.resolve(), 0.0, 0.0
        else:
            defaults = work / "defaults"
            render_defaults = render(defaults)
            project = work / "everything"
            render_everything = render(
                project, "--data-file", str(ROOT / "presets" / "everything.yml")
            )
        package = package_of(project)
        render_times = (render_defaults, render_everything)
        selected = set(args.rows or ROWS.values())
        status = 0
        with database() as db_name:
            if selected & {*WRK_ROWS, ROW_LISTS, ROW_TRACING}:
                status = measure(args, work, project, package, db_name, render_times)
            if selected & set(FOOTPRINT_ROWS):
                status = max(status, footprint(args, work, project, defaults, db_name,
                                               render_times))  # fmt: skip
        return status


def package_of(project: Path) -> str:
    return next(
        line.split(": ", 1)[1]
        for line in (project / ".copier-answers.yml").read_text().splitlines()
        if line.startswith("package_name: ")
    )


def project_env(project: Path, db_name: str, run: str, project_port: int) -> dict[str, str]:
    """The everything-on project's environment: production, on the machine's services."""
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_ISSUER": "bench",
        "JWT_AUDIENCE": "bench",
        "DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db_name}",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
        "CACHE_KEY_PREFIX": f"bench:{run}:cache:",
        "RATE_LIMIT_KEY_PREFIX": f"bench:{run}:limits",
        "WS_REDIS_CHANNEL_PREFIX": f"bench:{run}:ws:",
        "BARE_PREFIX": f"bench:{run}:bare:",
        # Every request of a run is admitted: the rows measure the limiter's cost, not 429s.
        "RATE_LIMIT_DEFAULT": "1000000/minute",
        # Cached entries outlive the run: a cached row never meets an expired entry.
        "CACHE_TTL_SECONDS": "3600",
        # The project's default pool, given to both apps (the bare app reads the same variables).
        "DB_POOL_SIZE": "20",
        "DB_MAX_OVERFLOW": "0",
        "FIRST_ADMIN_EMAIL": ADMIN_EMAIL,
        "FIRST_ADMIN_PASSWORD": ADMIN_PASSWORD,
        # The mail settings production requires (email=smtp); the bench sends no mail.
        "SMTP_HOST": "smtp.bench.invalid",
        "SMTP_FROM": "bench@bench.invalid",
        "PASSWORD_RESET_URL": "https://bench.invalid/reset?token={token}",
        "EMAIL_VERIFY_URL": "https://bench.invalid/verify?token={token}",
        "HOST": "127.0.0.1",
        "PORT": str(project_port),
        "WORKERS": "1",
        "PROMETHEUS_MULTIPROC_DIR": "",
        # The rows compare the project's structure with the bare app's: no spans are made
        # (the tracing rows switch it on, against a local receiver).
        "OTEL_SDK_DISABLED": "true",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR")
    return env


def measure(args: argparse.Namespace, work: Path, project: Path, package: str, db_name: str,
            render_times: tuple[float, float]) -> int:  # fmt: skip
    run = uuid.uuid4().hex[:8]
    project_port, bare_port = free_port(), free_port()
    env = project_env(project, db_name, run, project_port)
    subprocess.run([PYTHON, "-m", "alembic", "upgrade", "head"], cwd=project, env=env,
                   check=True, capture_output=True)  # fmt: skip
    project_url = f"http://127.0.0.1:{project_port}"
    bare_url = f"http://127.0.0.1:{bare_port}"
    bare = [PYTHON, "-m", "uvicorn", "bare_app:app", "--app-dir", str(BENCH), "--host",
            "127.0.0.1", "--port", str(bare_port), "--no-access-log", "--no-proxy-headers",
            "--timeout-keep-alive", "5"]  # fmt: skip

    with (
        server([PYTHON, "-m", package, "serve"], project, env, f"{project_url}/health/ready",
               work / "project.log") as project_pid,
        server(bare, ROOT, env, f"{bare_url}/health/live", work / "bare.log") as bare_pid,
    ):  # fmt: skip
        with httpx.Client(base_url=project_url, timeout=10) as client:
            login = client.post(
                "/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            login.raise_for_status()
            token = login.json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            owner = client.get("/api/v1/users/me", headers=auth).json()["id"]
            seeded = subprocess.run(
                [PYTHON, "-m", package, "seed", "--items", str(args.items), "--owner", ADMIN_EMAIL],
                cwd=project, env=env, check=True, capture_output=True, text=True,
            )  # fmt: skip
            print(f"seed: {seeded.stdout.strip()} (owner {owner})")
            # The table as a long-lived one is (hint bits set, statistics gathered), now rather
            # than by an autovacuum during the first rounds where it is on (it is off here).
            subprocess.run([*PSQL, "-d", db_name, "-c", "VACUUM (ANALYZE) items"], check=True)
            with httpx.Client(base_url=bare_url, timeout=10, headers=auth) as bare_client:
                warm_caches(client, bare_client, auth)

        rows = [
            (ROW_LIVE, "/health/live", "/health/live", {}, (1, 0)),
            (ROW_READ, "/api/v1/items/%d", "/items/%d", auth, None),
            (ROW_CACHED, "/api/v1/items/%d", "/items/%d", auth, (1, CACHED_IDS)),
            (ROW_LIMITED, "/api/v1/info", "/limited", {}, (1, 0)),
        ]
        lists = not args.rows or ROW_LISTS in args.rows
        rows = [row for row in rows if not args.rows or row[0] in args.rows]
        next_id = CACHED_IDS + 1  # uncached reads never repeat an id, so every one misses
        runs: dict[str, tuple[list[Result], list[Result]]] = {row[0]: ([], []) for row in rows}
        # Round by round, every row and side in turn, and the ratios are taken within a round:
        # the machine's drift hits the numbers of a round alike. Every other round runs the
        # same turns backwards, so a steady drift does not favour whichever side or row comes
        # first.
        turns = [
            # The cached read's sides in the other order: the project's uncached and cached
            # reads, whose ratio is a target, run back to back.
            (row, side)
            for row in rows
            for side in ((1, 0) if row[0] == ROW_CACHED else (0, 1))
        ]
        for round_ in range(args.rounds + 1):
            for (name, project_path, bare_path, headers, ids), side in (
                turns[::-1] if round_ % 2 == 0 and round_ else turns
            ):
                url, path = ((bare_url, bare_path), (project_url, project_path))[side]
                first, count = ids if ids else (next_id, 0)
                seconds = args.warmup if round_ == 0 else args.seconds
                profiling = args.profile and round_ == 1
                pid, label = ((bare_pid, "bare"), (project_pid, "ours"))[side]
                with (
                    profiled(pid, seconds, args.profile, f"{name} {label}")
                    if profiling
                    else (contextlib.nullcontext())
                ):
                    result = wrk(url, path, seconds, args.connections, headers, first, count,
                                 pid)  # fmt: skip
                if ids is None:
                    next_id = result.last_id + 1
                    if next_id > args.items:
                        sys.exit("not enough items for uncached reads: raise --items")
                if round_:
                    runs[name][side].append(result)
                if args.verbose:
                    print(f"  round {round_} {name} {label}: "
                          f"{result.rps:.0f} rps, p99 {result.p99_us / 1000:.1f} ms, "
                          f"{result.cpu_us:.0f} µs CPU per request")  # fmt: skip
        list_results = (
            measure_lists(args, project_url, auth, work / "project.log", db_name, project_pid)
            if lists
            else None
        )
        tracing_results = (
            measure_tracing(args, work, project, package, env, auth, next_id)
            if not args.rows or ROW_TRACING in args.rows
            else None
        )
    if list_results is not None:
        list_results["clients"] = list_throughput(
            args, [PYTHON, "-m", package, "serve"], project, env, work / "lists.log", auth
        )
    return max(report(runs, render_times, args) if runs else 0, report_lists(list_results),
               report_tracing(tracing_results))  # fmt: skip


@contextlib.contextmanager
def profiled(pid: int, seconds: int, directory: Path, name: str) -> Iterator[None]:
    """py-spy samples the project while wrk runs (install py-spy into the venv first)."""
    directory.mkdir(parents=True, exist_ok=True)
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    output = directory / f"{slug}.txt"
    spy = subprocess.Popen(
        [shutil.which("py-spy", path=str(Path(PYTHON).parent)) or "py-spy", "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "250",
         "--format", "raw", "--output", str(output), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        spy.wait(seconds + 30)
    print(f"profile of {name}: {output}")


def warm_caches(client: httpx.Client, bare_client: httpx.Client, auth: dict[str, str]) -> None:
    """Read the cached rows' items once through each app, so that every later read hits."""
    for item_id in range(1, CACHED_IDS + 1):
        for app, headers in ((client, auth), (bare_client, {})):
            app.get(f"/api/v1/items/{item_id}" if app is client else f"/items/{item_id}",
                    headers=headers).raise_for_status()  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Lists at scale (issue 27): every row at one client, as server time (the access log's
# duration_ms) and as a ratio to the single-item read of the same round; then the list's
# throughput at 10 clients.
# ---------------------------------------------------------------------------------------------
LIST_READ = "single-item read (uncached)"
LIST_FIRST = "list page 1"
LIST_MIDDLE = "list page at 50 % depth (cursor)"
LIST_LAST = "list last page (cursor)"
LIST_SEARCH = "name search (few matches)"
LIST_COMMON = "name search (a common word)"
LIST_TOTAL = "list page 1 with total (default)"
LIST_OFFSET = "list page at 50 % depth (offset)"
LIST_CLIENTS = 10
LIST_WORKERS = 2  # the issue measured 26 req/s on gunicorn with two workers
LIST_TARGETS = {
    LIST_MIDDLE: "≤ 1.5 × page 1, ≤ 10 ms",
    LIST_LAST: "≤ 1.5 × page 1, ≤ 10 ms",
    LIST_FIRST: "≤ 10 ms",
    LIST_SEARCH: "≤ 25 ms",
}
PAGE = "/api/v1/items?limit=100&include_total=false"


@dataclass
class ListRun:
    server_ms: float  # median duration_ms of the access log lines of the run
    latency_ms: float  # wrk's p50 at one connection
    requests: int
    non_2xx: int


def access_durations(log: Path, start: int) -> list[float]:
    """duration_ms of the access log lines written after byte `start` of the project's log."""
    durations = []
    with log.open("rb") as output:
        output.seek(start)
        for line in output:
            if b'"duration_ms"' in line:
                with contextlib.suppress(ValueError, KeyError):
                    durations.append(float(json.loads(line)["duration_ms"]))
    return durations


def list_paths(client: httpx.Client, auth: dict[str, str]) -> dict[str, tuple[str, int, int]]:
    """Each row's wrk path (and its ids): cursors at 50 % depth and before the last page, as a
    client that walked there would hold them."""

    def get(**params: object) -> dict[str, object]:
        response = client.get("/api/v1/items", params=params, headers=auth, timeout=120)
        response.raise_for_status()
        result: dict[str, object] = response.json()
        return result

    total = int(get(limit=1)["total"])  # type: ignore[call-overload]
    middle = get(limit=1, offset=total // 2, include_total="false")
    last = get(limit=1, offset=max(total - 101, 0), include_total="false")
    name = str(middle["items"][0]["name"])  # type: ignore[index]
    few = name.lower()[:-2].replace(" ", "+")  # the same name, any last two digits
    common = name.split()[1]  # the noun: about one item in fifty
    first_id = total // 2
    return {
        LIST_READ: ("/api/v1/items/%d", first_id, 0),
        LIST_FIRST: (PAGE, 1, 1),
        LIST_MIDDLE: (f"{PAGE}&cursor={middle['next_cursor']}", 1, 1),
        LIST_LAST: (f"{PAGE}&cursor={last['next_cursor']}", 1, 1),
        LIST_SEARCH: (f"{PAGE}&name={few}", 1, 1),
        LIST_COMMON: (f"{PAGE}&name={common}", 1, 1),
        LIST_TOTAL: ("/api/v1/items?limit=100", 1, 1),
        LIST_OFFSET: (f"/api/v1/items?limit=100&include_total=false&offset={total // 2}", 1, 1),
    }


def measure_lists(args: argparse.Namespace, url: str, auth: dict[str, str], log: Path,
                  db_name: str, pid: int) -> dict[str, object]:  # fmt: skip
    with httpx.Client(base_url=url) as client:
        paths = list_paths(client, auth)
    if args.plans:
        write_plans(args.plans, db_name, paths)
    runs: dict[str, list[ListRun]] = {name: [] for name in paths}
    next_id = 0
    for round_ in range(args.rounds + 1):
        for name, (path, first, count) in paths.items():
            if name == LIST_READ:
                first = next_id or first
            start = log.stat().st_size
            result = wrk(url, path, args.warmup if round_ == 0 else args.seconds, 1, auth, first,
                         count, pid)  # fmt: skip
            if name == LIST_READ:
                next_id = result.last_id + 1
            durations = access_durations(log, start)
            run = ListRun(median_of(durations) if durations else float("nan"),
                          result.p50_us / 1000, result.requests,
                          result.non_2xx + result.socket_errors)  # fmt: skip
            if round_:
                runs[name].append(run)
            if args.verbose:
                print(f"  round {round_} {name}: server {run.server_ms:.2f} ms, "
                      f"p50 {run.latency_ms:.2f} ms, {run.requests} requests")  # fmt: skip
    return {"runs": runs}


def list_throughput(args: argparse.Namespace, command: list[str], project: Path,
                    env: dict[str, str], log: Path, auth: dict[str, str]) -> Result:  # fmt: skip
    """Page 1 at LIST_CLIENTS connections on the issue's deployment: LIST_WORKERS worker
    processes of the project's own `serve` on both CPUs (wrk shares CPU 1 with one of them),
    where the single-connection rows use the one pinned worker of the other rows."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    workers = {**env, "PORT": str(port), "WORKERS": str(LIST_WORKERS)}
    with server(command, project, workers, f"{url}/health/ready", log, cpu=None):
        wrk(url, PAGE, args.warmup, LIST_CLIENTS, auth, 1, 1)
        runs = [wrk(url, PAGE, args.seconds, LIST_CLIENTS, auth, 1, 1)
                for _ in range(max(args.rounds // 3, 1))]  # fmt: skip
    return median(runs)


def write_plans(path: Path, db_name: str, paths: dict[str, tuple[str, int, int]]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the statements the list rows make (as the service builds
    them: one row more than the page, the cursor as `id > last`)."""
    from urllib.parse import parse_qs, urlsplit

    def after(row: str) -> int:
        cursor = parse_qs(urlsplit(paths[row][0]).query)["cursor"][0]
        body = cursor.split(".")[0]
        return int(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))[0])

    def term(row: str) -> str:
        return parse_qs(urlsplit(paths[row][0]).query)["name"][0].replace("'", "''")

    columns = "items.id, items.name, items.description, items.owner_id, items.created_at, items.updated_at"
    statements = {
        LIST_FIRST: f"SELECT {columns} FROM items WHERE true ORDER BY items.id LIMIT 101",
        LIST_MIDDLE: f"SELECT {columns} FROM items WHERE items.id > {after(LIST_MIDDLE)} "
                     "ORDER BY items.id LIMIT 101",
        LIST_LAST: f"SELECT {columns} FROM items WHERE items.id > {after(LIST_LAST)} "
                   "ORDER BY items.id LIMIT 101",
        LIST_SEARCH: f"SELECT {columns} FROM items WHERE items.name ILIKE '%{term(LIST_SEARCH)}%' "
                     "ESCAPE '\\' ORDER BY items.id LIMIT 101",
        LIST_COMMON: f"SELECT {columns} FROM items WHERE items.name ILIKE '%{term(LIST_COMMON)}%' "
                     "ESCAPE '\\' ORDER BY items.id LIMIT 101",
        LIST_TOTAL + " (its COUNT)": "SELECT count(*) FROM (SELECT items.id FROM items WHERE true) AS anon_1",
        LIST_OFFSET: f"SELECT {columns} FROM items WHERE true ORDER BY items.id LIMIT 101 "
                     f"OFFSET {int(parse_qs(urlsplit(paths[LIST_OFFSET][0]).query)['offset'][0])}",
    }  # fmt: skip
    sections = []
    for name, sql in statements.items():
        plan = subprocess.run([*PSQL, "-d", db_name, "-c", f"EXPLAIN (ANALYZE, BUFFERS) {sql}"],
                              check=True, capture_output=True, text=True).stdout  # fmt: skip
        sections.append(f"-- {name}\n{sql};\n{plan}")
    path.write_text("\n".join(sections))
    print(f"plans: {path}")


def report_lists(results: dict[str, object] | None) -> int:
    if results is None:
        return 0
    runs: dict[str, list[ListRun]] = results["runs"]  # type: ignore[assignment]
    clients: Result = results["clients"]  # type: ignore[assignment]
    rounds = len(runs[LIST_READ])
    server = {name: median_of([run.server_ms for run in values]) for name, values in runs.items()}
    latency = {name: median_of([run.latency_ms for run in values]) for name, values in runs.items()}
    to_read = {name: median_of([run.server_ms / read.server_ms
                                for run, read in zip(values, runs[LIST_READ], strict=True)])
               for name, values in runs.items()}  # fmt: skip
    to_first = {name: median_of([run.server_ms / first.server_ms
                                 for run, first in zip(values, runs[LIST_FIRST], strict=True)])
                for name, values in runs.items()}  # fmt: skip
    checks = {
        LIST_FIRST: server[LIST_FIRST] <= 10,
        LIST_MIDDLE: to_first[LIST_MIDDLE] <= 1.5 and server[LIST_MIDDLE] <= 10,
        LIST_LAST: to_first[LIST_LAST] <= 1.5 and server[LIST_LAST] <= 10,
        LIST_SEARCH: server[LIST_SEARCH] <= 25,
    }
    print()
    print(f"Lists at scale: one wrk connection, {rounds} rounds of every row in turn; limit=100, "
          "include_total=false unless said; server time = the access log's duration_ms "
          "(median), ratios are medians of each round's ratio.")  # fmt: skip
    header = f"{'row':36} {'server ms':>9} {'p50 ms':>7} {'× read':>7} {'× page 1':>8}  target"
    print(header)
    print("-" * (len(header) + 26))
    failed = False
    for name in runs:
        check = checks.get(name)
        failed |= check is False
        mark = "" if check is None else ("met" if check else "MISSED")
        print(f"{name:36} {server[name]:9.2f} {latency[name]:7.2f} {to_read[name]:7.2f} "
              f"{to_first[name]:8.2f}  {LIST_TARGETS.get(name, '')} {mark}")  # fmt: skip
    met = clients.rps >= 260
    failed |= not met
    print(f"{f'list page 1, {LIST_CLIENTS} clients, {LIST_WORKERS} workers':36} "
          f"{clients.rps:9.0f} rps, "
          f"p50 {clients.p50_us / 1000:.1f} ms, p99 {clients.p99_us / 1000:.1f} ms  "
          f"≥ 260 rps (10 × the issue's 26) {'met' if met else 'MISSED'}")  # fmt: skip
    bad = sum(run.non_2xx for values in runs.values() for run in values) + clients.non_2xx
    if bad:
        print(f"! lists: {bad} responses were not 2xx")
    return 1 if failed or bad else 0


# ---------------------------------------------------------------------------------------------
# The footprint of a worker (issue 28): resident memory after a warm-up, cold start and import
# time, for the defaults project and the everything-on one, the bare app beside them; the
# render times as a target row. Each server is its own process, started here and stopped.
# ---------------------------------------------------------------------------------------------
FOOTPRINT_RUNS = 5
FOOTPRINT_TARGETS = {
    ROW_MEMORY: "everything-on ≤ 90 MB",
    ROW_START: "≤ 1.0 s",
    ROW_IMPORT: "≤ 0.5 s",
    ROW_RENDER: "everything-on ≤ 1.5 s",
}


@dataclass
class Subject:
    """A server the footprint rows measure: how to start it, import it, and warm it up."""

    label: str
    command: list[str]
    cwd: Path
    env: dict[str, str]
    port: int
    warm_paths: tuple[str, ...]  # wrk runs on each before the memory is read
    module: str | None = None  # what `python -c "import ..."` imports (None: no import row)


def resident_mb(pid: int) -> float:
    """The resident set (VmRSS) of a process, in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def answers_200(port: int, path: str) -> bool:
    """One GET over a plain socket: cheaper than an HTTP client while a server starts."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
                         .encode())  # fmt: skip
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def cold_start(subject: Subject, log: Path) -> float:
    """Seconds from the process's start to the first 200 of /health/live."""
    with log.open("ab") as output:
        start = time.perf_counter()
        process = subprocess.Popen(pinned(0, subject.command), cwd=subject.cwd, env=subject.env,
                                   stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            while not answers_200(subject.port, "/health/live"):
                if process.poll() is not None:
                    sys.exit(f"{subject.label} exited: see {log}\n{log.read_text()[-3000:]}")
                if time.perf_counter() - start > 60:
                    sys.exit(f"{subject.label}: no 200 from /health/live within 60 s: see {log}")
                time.sleep(0.005)
            return time.perf_counter() - start
        finally:
            stop(process)


def import_seconds(subject: Subject) -> float:
    """Wall time of `python -c "import <module>"`: the interpreter's start included."""
    start = time.perf_counter()
    subprocess.run(pinned(0, [PYTHON, "-c", f"import {subject.module}"]), cwd=subject.cwd,
                   env=subject.env, check=True)  # fmt: skip
    return time.perf_counter() - start


def warm_memory(subject: Subject, args: argparse.Namespace, log: Path) -> float:
    """Resident memory of the worker after a warm-up: the OpenAPI document built once (as the
    first visit of /docs does), then wrk on each of the subject's paths."""
    url = f"http://127.0.0.1:{subject.port}"
    with server(subject.command, subject.cwd, subject.env, f"{url}/health/live", log) as pid:
        httpx.get(f"{url}/openapi.json", timeout=30).raise_for_status()
        for path in subject.warm_paths:
            result = wrk(url, path, args.warmup, args.connections, {})
            if result.non_2xx or result.socket_errors:
                sys.exit(f"{subject.label}: {path} answered {result.non_2xx} non-2xx responses "
                         f"({result.socket_errors} socket errors) while warming up")  # fmt: skip
        return resident_mb(pid)


def defaults_subject(project: Path, work: Path) -> Subject:
    """The defaults project: SQLite, staging (production refuses SQLite), its own migrations."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "ENVIRONMENT": "staging",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'defaults.db'}",
        "FIRST_ADMIN_EMAIL": ADMIN_EMAIL,
        "FIRST_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "RATE_LIMIT_DEFAULT": "1000000/minute",  # the warm-up is never refused
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": "1",
    }
    subprocess.run([PYTHON, "-m", "alembic", "upgrade", "head"], cwd=project, env=env,
                   check=True, capture_output=True)  # fmt: skip
    package = package_of(project)
    return Subject("defaults", [PYTHON, "-m", package, "serve"], project, env, port,
                   ("/health/live", "/api/v1/info"), f"{package}.main")  # fmt: skip


def footprint(args: argparse.Namespace, work: Path, project: Path, defaults: Path | None,
              db_name: str, render_times: tuple[float, float]) -> int:  # fmt: skip
    """The footprint rows: every subject measured in turn, medians of `--starts` runs."""
    selected = set(args.rows or ROWS.values())
    run = uuid.uuid4().hex[:8]
    port = free_port()
    # As deployed: tracing on (a span per request, none exported: no collector is configured).
    env = project_env(project, db_name, run, port)
    env.pop("OTEL_SDK_DISABLED")
    subprocess.run([PYTHON, "-m", "alembic", "upgrade", "head"], cwd=project, env=env,
                   check=True, capture_output=True)  # fmt: skip
    package = package_of(project)
    subjects = [defaults_subject(defaults, work)] if defaults else []
    subjects.append(Subject("everything-on", [PYTHON, "-m", package, "serve"], project, env,
                            port, ("/health/live", "/api/v1/info"), f"{package}.main"))  # fmt: skip
    bare_port = free_port()
    subjects.append(Subject(
        "bare app",
        [PYTHON, "-m", "uvicorn", "bare_app:app", "--app-dir", str(BENCH), "--host",
         "127.0.0.1", "--port", str(bare_port), "--no-access-log", "--no-proxy-headers"],
        ROOT, env, bare_port, ("/health/live", "/limited"),
    ))  # fmt: skip
    figures: dict[str, dict[str, float]] = {row: {} for row in FOOTPRINT_ROWS}
    for subject in subjects:
        log = work / f"footprint-{subject.label.replace(' ', '-')}.log"
        if ROW_MEMORY in selected:
            figures[ROW_MEMORY][subject.label] = warm_memory(subject, args, log)
        if ROW_START in selected:
            starts = [cold_start(subject, log) for _ in range(args.starts)]
            figures[ROW_START][subject.label] = median_of(starts)
            if args.verbose:
                print(f"  cold starts of {subject.label}: "
                      + ", ".join(f"{start:.2f}" for start in starts))  # fmt: skip
        if ROW_IMPORT in selected and subject.module:
            import_seconds(subject)  # compiles the bytecode, as an image build does
            imports = [import_seconds(subject) for _ in range(args.starts)]
            figures[ROW_IMPORT][subject.label] = median_of(imports)
            if args.verbose:
                print(f"  imports of {subject.label}: "
                      + ", ".join(f"{seconds:.2f}" for seconds in imports))  # fmt: skip
    if ROW_RENDER in selected and not args.project:
        figures[ROW_RENDER] = {"defaults": render_times[0], "everything-on": render_times[1]}
    return report_footprint(figures, [subject.label for subject in subjects], args)


def footprint_checks(figures: dict[str, dict[str, float]]) -> dict[str, bool | None]:
    """Each footprint row's target: met, missed, or None when the row was not measured."""

    def check(row: str, labels: tuple[str, ...], limit: float) -> bool | None:
        values = [figures[row][label] for label in labels if label in figures[row]]
        return all(value <= limit for value in values) if values else None

    return {
        ROW_MEMORY: check(ROW_MEMORY, ("everything-on",), 90),
        ROW_START: check(ROW_START, ("defaults", "everything-on"), 1.0),
        ROW_IMPORT: check(ROW_IMPORT, ("defaults", "everything-on"), 0.5),
        ROW_RENDER: check(ROW_RENDER, ("everything-on",), 1.5),
    }


def report_footprint(figures: dict[str, dict[str, float]], labels: list[str],
                     args: argparse.Namespace) -> int:  # fmt: skip
    checks = footprint_checks(figures)
    print()
    print(f"Footprint: one uvicorn worker each. Memory: VmRSS after /openapi.json and a "
          f"{args.warmup} s wrk run on each of two routes; cold start: process start to the "
          f"first /health/live 200 and `python -c \"import <package>.main\"` (bytecode "
          f"compiled first), medians of {args.starts} runs.")  # fmt: skip
    header = f"{'row':38} " + " ".join(f"{label:>13}" for label in labels) + "  target"
    print(header)
    print("-" * (len(header) + 26))
    failed = False
    for row in FOOTPRINT_ROWS:
        if not figures[row]:
            continue
        check = checks[row]
        failed |= check is False
        mark = "" if check is None else ("met" if check else "MISSED")
        cells = " ".join(
            f"{figures[row][label]:13.{1 if row == ROW_MEMORY else 2}f}"
            if label in figures[row] else f"{'':13}"
            for label in labels
        )  # fmt: skip
        print(f"{row:38} {cells}  {FOOTPRINT_TARGETS[row]} {mark}")
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------
# Tracing on vs off (issue 22): the uncached authenticated read on three copies of the project,
# the same code and settings but for the OpenTelemetry variables: the SDK disabled, every request
# sampled and exported to a local receiver (which accepts and discards), sampling off.
# ---------------------------------------------------------------------------------------------
TRACING_OFF = "tracing off (OTEL_SDK_DISABLED=true)"
TRACING_SAMPLED = "tracing on, 100 % sampled, exported"
TRACING_UNSAMPLED = "tracing on, sampling off"
TRACING_TARGETS = {TRACING_SAMPLED: 0.85, TRACING_UNSAMPLED: 0.97}


@contextlib.contextmanager
def discarding_receiver() -> Iterator[tuple[str, list[int]]]:
    """An OTLP/HTTP endpoint on 127.0.0.1 that answers every export with an empty success and
    keeps nothing but the number of exports and bytes."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    counts = [0, 0]  # exports, bytes

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a collector's

        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length", 0))
            self.rfile.read(size)
            counts[0] += 1
            counts[1] += size
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{receiver.server_address[1]}", counts
    finally:
        receiver.shutdown()
        receiver.server_close()


def measure_tracing(args: argparse.Namespace, work: Path, project: Path, package: str,
                    env: dict[str, str], auth: dict[str, str], first_id: int) -> dict[str, object]:  # fmt: skip
    """wrk on each copy in turn, round by round (backwards every other round), new ids only."""
    with contextlib.ExitStack() as stack:
        endpoint, counts = stack.enter_context(discarding_receiver())
        sides = {
            TRACING_OFF: {"OTEL_SDK_DISABLED": "true"},
            TRACING_SAMPLED: {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                              "OTEL_TRACES_SAMPLER": "parentbased_always_on"},
            TRACING_UNSAMPLED: {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                                "OTEL_TRACES_SAMPLER": "always_off"},
        }  # fmt: skip
        servers: dict[str, tuple[str, int, Path]] = {}
        for number, (name, otel) in enumerate(sides.items()):
            port = free_port()
            log = work / f"tracing-{number}.log"
            side_env = {**env, **otel, "PORT": str(port)}
            for variable in ("OTEL_SDK_DISABLED", "OTEL_EXPORTER_OTLP_ENDPOINT",
                             "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_SAMPLER"):  # fmt: skip
                if variable not in otel:
                    side_env.pop(variable, None)
            url = f"http://127.0.0.1:{port}"
            serve = [PYTHON, "-m", package, "serve"]
            pid = stack.enter_context(server(serve, project, side_env, f"{url}/health/ready", log))
            servers[name] = (url, pid, log)
        runs: dict[str, list[Result]] = {name: [] for name in servers}
        next_id = first_id
        turns = list(servers)
        for round_ in range(args.rounds + 1):
            for name in turns[::-1] if round_ % 2 == 0 and round_ else turns:
                url, pid, _ = servers[name]
                seconds = args.warmup if round_ == 0 else args.seconds
                result = wrk(url, "/api/v1/items/%d", seconds, args.connections, auth, next_id,
                             0, pid)  # fmt: skip
                next_id = result.last_id + 1
                if next_id > args.items:
                    sys.exit("not enough items for uncached reads: raise --items")
                if round_:
                    runs[name].append(result)
                if args.verbose:
                    print(f"  round {round_} {name}: {result.rps:.0f} rps, "
                          f"p99 {result.p99_us / 1000:.1f} ms, "
                          f"{result.cpu_us:.0f} µs CPU per request")  # fmt: skip
        exports, sent = counts
        dropped = [name for name, (_, _, log) in servers.items()
                   if "spans_dropped" in log.read_text(errors="replace")]  # fmt: skip
    return {"runs": runs, "exports": exports, "bytes": sent, "dropped": dropped}


def report_tracing(results: dict[str, object] | None) -> int:
    if results is None:
        return 0
    runs: dict[str, list[Result]] = results["runs"]  # type: ignore[assignment]
    off = runs[TRACING_OFF]
    ratios = {name: median_of([run.rps / base.rps for run, base in zip(values, off, strict=True)])
              for name, values in runs.items()}  # fmt: skip
    print()
    print(f"Tracing on vs off: the uncached authenticated read (a new id each request) on three "
          f"copies of the project, {len(off)} rounds of every copy in turn; ratio = the median of "
          "each round's requests per second over the copy with tracing off.")  # fmt: skip
    header = f"{'copy':38} {'rps':>9} {'p99 ms':>7} {'CPU µs':>7} {'ratio':>6}  target"
    print(header)
    print("-" * (len(header) + 26))
    failed = False
    for name, values in runs.items():
        result = median(values)
        target = TRACING_TARGETS.get(name)
        check = "" if target is None else ("met" if ratios[name] >= target else "MISSED")
        failed |= check == "MISSED"
        print(f"{name:38} {result.rps:9.0f} {result.p99_us / 1000:7.1f} {result.cpu_us:7.0f} "
              f"{ratios[name]:6.2f}  {'' if target is None else f'≥ {target:.2f} of off'} {check}")  # fmt: skip
    print(f"receiver: {results['exports']} exports, {int(results['bytes']) / 1e6:.1f} MB")  # type: ignore[call-overload]
    problems = []
    bad = sum(run.non_2xx + run.socket_errors for values in runs.values() for run in values)
    if bad:
        problems.append(f"tracing: {bad} responses were not 2xx or failed")
    if not results["exports"]:
        problems.append("tracing: the receiver got no export from the sampled copy")
    for name in results["dropped"]:  # type: ignore[attr-defined]
        problems.append(f"tracing: {name} dropped spans (its log says spans_dropped)")
    for problem in problems:
        print(f"! {problem}")
    return 1 if failed or problems else 0


TARGETS = {
    ROW_LIVE: "≥ 0.9 of bare",
    ROW_READ: "≥ 0.95 of bare, p99 ≤ 150 ms",
    ROW_CACHED: "≥ 3 × uncached",
    ROW_LIMITED: "≥ 0.85 of bare",
}


def median_of(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def report(runs: dict[str, tuple[list[Result], list[Result]]], render_times: tuple[float, float],
           args: argparse.Namespace) -> int:  # fmt: skip
    results = {name: (median(bare), median(ours)) for name, (bare, ours) in runs.items()}
    # Ratios within each round, then their median.
    ratios = {
        name: median_of([o.rps / b.rps for b, o in zip(bare, ours, strict=True)])
        for name, (bare, ours) in runs.items()
    }
    speedup = None
    if ROW_READ in runs and ROW_CACHED in runs:
        speedup = median_of([
            cached.rps / uncached.rps
            for uncached, cached in zip(runs[ROW_READ][1], runs[ROW_CACHED][1], strict=True)
        ])  # fmt: skip
    checks: dict[str, bool | None] = {}
    for name, (_, ours) in results.items():
        if name == ROW_LIVE:
            checks[name] = ratios[name] >= 0.9
        elif name == ROW_READ:
            checks[name] = ratios[name] >= 0.95 and ours.p99_us <= 150_000
        elif name == ROW_CACHED and speedup is not None:
            checks[name] = speedup >= 3
        elif name == ROW_LIMITED:
            checks[name] = ratios[name] >= 0.85
        else:
            checks[name] = None
    print()
    print(f"wrk: 1 thread, {args.connections} connections, 127.0.0.1; one uvicorn worker per app. "
          f"Each row and side: a {args.warmup} s warm-up, then {args.rounds} rounds of "
          f"{args.seconds} s, every row and side in turn (backwards every other round); the "
          "median run is shown, ratios are the median of each round's ratio.")  # fmt: skip
    if not args.project:
        print(f"render (copier copy): defaults {render_times[0]:.1f} s, "
              f"everything-on {render_times[1]:.1f} s")  # fmt: skip
    header = (f"{'row':38} {'bare rps':>9} {'p99 ms':>7} {'ours rps':>9} {'p99 ms':>7} "
              f"{'ratio':>6}  target")  # fmt: skip
    print(header)
    print("-" * (len(header) + 26))
    failed = False
    for name, (bare, ours) in results.items():
        check = checks[name]
        mark = "" if check is None else ("met" if check else "MISSED")
        failed |= check is False
        print(f"{name:38} {bare.rps:9.0f} {bare.p99_us / 1000:7.1f} {ours.rps:9.0f} "
              f"{ours.p99_us / 1000:7.1f} {ratios[name]:6.2f}  {TARGETS[name]} {mark}")  # fmt: skip
    if speedup is not None:
        print(f"{'cached / uncached read (ours)':38} {'':9} {'':7} {'':9} {'':7} {speedup:6.2f}")
    problems = []
    for name, (bare, ours) in results.items():
        for side, result in (("bare", bare), ("ours", ours)):
            if result.non_2xx or result.socket_errors:
                problems.append(f"{name} ({side}): {result.non_2xx} non-2xx responses, "
                                f"{result.socket_errors} socket errors")  # fmt: skip
    if ROW_READ in results and results[ROW_READ][1].hits:
        problems.append(f"uncached read: {results[ROW_READ][1].hits} responses were cache hits")
    if ROW_CACHED in results and results[ROW_CACHED][1].misses:
        problems.append(f"cached read: {results[ROW_CACHED][1].misses} responses were misses")
    for problem in problems:
        print(f"! {problem}")
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
