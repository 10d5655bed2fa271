"""Instructions per request of the everything-on project, counted by callgrind, in process.

    .venv/bin/python bench/instructions.py --project ../everything-on   # a rendered project

Wall-clock numbers on a shared machine drift by a fifth within minutes; instruction counts do
not (two runs of the same code differ by about 0.2 %). This script builds the project's app with
`create_app()`, enters its lifespan against the machine's PostgreSQL and Redis, and drives 32
concurrent request coroutines straight through ASGI (no HTTP server, no sockets on the client
side). Under `valgrind --tool=callgrind` it counts only while a batch runs: cached reads of
the item route, uncached ones, `/health/live` and the rate-limited `/api/v1/info` (no token:
counted by client address), and prints instructions per request. Then, in a process of its
own, bench/bare_app.py the same way: its `/health/live` and its `/limited` (the same `limits`
moving-window hit on the same Redis), so that each of those two rows has its ratio to the bare
app's same work. It re-runs itself under valgrind; nothing here is part of the test suite.

    .venv/bin/python bench/instructions.py --project ../everything-on --kinds limited,live

Under valgrind the process runs some fifty times slower, so the cache's and the limiter's 0.5 s
per-command deadlines would expire while 32 requests wait their turn: each would then fail open
and leave Redis alone for seconds, and a batch would count requests that never reached Redis.
The inner process lifts both deadlines to a minute (the same code runs: `asyncio.timeout`
with another delay), and the run fails if the project logged a storage as unavailable anyway.

Instructions are not seconds: work that waits on system calls or misses the CPU caches costs
more time per instruction (a miss's PostgreSQL round trips do). Use it to compare two versions
of the code, side by side, and `make bench` for the numbers that count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-At"]
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench-password-1234"
CONCURRENCY = 32
HOT_ITEMS = 32
# Production refuses a mail relay on localhost and example.com links (as bench/run.py says);
# nothing here sends mail, the project only has to start.
PRODUCTION_MAIL = {
    "SMTP_HOST": "smtp.bench.invalid",
    "SMTP_FROM": "bench@bench.invalid",
    "PASSWORD_RESET_URL": "https://bench.invalid/reset-password?token={token}",
    "EMAIL_VERIFY_URL": "https://bench.invalid/verify-email?token={token}",
}
BENCH = Path(__file__).resolve().parent
KINDS = ("cached", "uncached", "live", "limited")
BARE_KINDS = ("live", "limited")  # the bare app's routes of the same work
# What the project logs when a Redis command failed or missed its deadline.
UNAVAILABLE = (b"rate_limit_storage_unavailable", b"cache_unavailable")
# The modules whose per-command deadline (REDIS_TIMEOUT_SECONDS) valgrind's slowness would hit.
DEADLINES = ("ratelimit.limiter", "cache")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--project", type=Path, required=True, help="a rendered everything-on project"
    )
    parser.add_argument("--cached", type=int, default=256, help="cached reads counted")
    parser.add_argument("--uncached", type=int, default=96, help="uncached reads counted")
    parser.add_argument("--limited", type=int, default=256, help="rate-limited requests counted")
    parser.add_argument(
        "--kinds",
        type=lambda value: value.split(","),
        default=list(KINDS),
        help=f"only these batches, comma-separated: {', '.join(KINDS)} (all by default)",
    )
    parser.add_argument("--no-bare", action="store_true", help="do not count the bare app")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if unknown := set(args.kinds) - set(KINDS):
        parser.error(f"unknown kinds: {', '.join(sorted(unknown))}")
    project = args.project.resolve()
    if args.inside:
        try:
            import uvloop  # the event loop uvicorn serves the project with

            uvloop.run(drive_bare(args) if args.bare else drive(project, args))
        except ImportError:
            asyncio.run(drive_bare(args) if args.bare else drive(project, args))
        return 0
    for tool in ("valgrind", "callgrind_control", "psql"):
        if shutil.which(tool) is None:
            sys.exit(
                f"{tool} is not installed (valgrind from Debian's packages, psql: make system)"
            )
    name = f"bench_{uuid.uuid4().hex[:12]}"
    subprocess.run([*PSQL, "-d", "postgres", "-c", f'CREATE DATABASE "{name}"'], check=True)
    try:
        with tempfile.TemporaryDirectory(prefix="instructions-") as tmp:
            env = project_env(project, name)
            subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=project,
                           env=env, check=True, capture_output=True)  # fmt: skip
            counts = {"cached": args.cached, "uncached": args.uncached, "live": args.cached,
                      "limited": args.limited}  # fmt: skip
            sides = [("project", Path(tmp) / "project")]
            bare_kinds = [kind for kind in args.kinds if kind in BARE_KINDS]
            if bare_kinds and not args.no_bare:
                sides.append(("bare", Path(tmp) / "bare"))
            for side, directory in sides:
                directory.mkdir()
                kinds = bare_kinds if side == "bare" else args.kinds
                log = directory / "inner.log"
                with log.open("wb") as output:
                    subprocess.run(
                        ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                         f"--callgrind-out-file={directory / 'callgrind.out.%p'}", sys.executable,
                         __file__, "--inside", "--project", str(project), "--database", name,
                         "--kinds", ",".join(kinds), *(["--bare"] if side == "bare" else []),
                         *(f"--{kind}={counts[kind]}" for kind in ("cached", "uncached", "limited"))],
                        check=True, env=env, stdout=output, stderr=subprocess.STDOUT,
                    )  # fmt: skip
                failures = [line for line in log.read_bytes().splitlines()
                            if any(event in line for event in UNAVAILABLE)]  # fmt: skip
                if failures:
                    sys.exit(f"{side}: requests did not all reach Redis, the counts are not "
                             f"comparable:\n{failures[0].decode(errors='replace')}")  # fmt: skip
            results = {side: measured(directory, counts) for side, directory in sides}
            for kind in args.kinds:
                line = f"{kind:9} {results['project'][kind]:8.0f}k instructions per request"
                if kind in results.get("bare", {}):
                    bare, ours = results["bare"][kind], results["project"][kind]
                    line += f"   bare app {bare:8.0f}k   ratio {ours / bare:5.2f}"
                print(line)
    finally:
        subprocess.run(
            [*PSQL, "-d", "postgres", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
            check=False,
        )
    return 0


def project_env(project: Path, database: str) -> dict[str, str]:
    prefix = f"bench:{database}"
    return {
        **os.environ,
        **PRODUCTION_MAIL,
        "PYTHONPATH": str(project / "src"),
        "ENVIRONMENT": "production",
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "JWT_ISSUER": "bench",
        "JWT_AUDIENCE": "bench",
        "DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
        "CACHE_KEY_PREFIX": f"{prefix}:cache:",
        "RATE_LIMIT_KEY_PREFIX": f"{prefix}:limits",
        "WS_REDIS_CHANNEL_PREFIX": f"{prefix}:ws:",
        "BARE_PREFIX": f"{prefix}:bare:",
        "RATE_LIMIT_DEFAULT": "1000000/minute",
        "CACHE_TTL_SECONDS": "3600",
        "FIRST_ADMIN_EMAIL": ADMIN_EMAIL,
        "FIRST_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }


def measured(directory: Path, counts: dict[str, int]) -> dict[str, float]:
    """Thousands of instructions per request from each batch's dump (named by its trigger)."""
    results = {}
    for dump in sorted(directory.glob("callgrind.out.*.*")):
        text = dump.read_text(errors="replace")
        trigger = re.search(r"^desc: Trigger: .* (\w+)$", text, re.MULTILINE)
        totals = re.search(r"^totals: (\d+)", text, re.MULTILINE)
        if trigger and totals and trigger.group(1) in counts:
            kind = trigger.group(1)
            results[kind] = int(totals.group(1)) / counts[kind] / 1000
    return results


def asgi_scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1", "method": "GET", "scheme": "http", "path": path,
        "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip


async def call(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(asgi_scope(path, headers), receive, send)
    return status


def callgrind(*command: str) -> None:
    """Tell the valgrind running this process to start, stop or dump counting."""
    subprocess.run(["callgrind_control", *command, str(os.getpid())], check=True,
                   capture_output=True)  # fmt: skip


async def run_batches(app: Any, args: argparse.Namespace, kinds: list[str],
                      path_of: Any, headers_of: Any) -> None:  # fmt: skip
    """Warm every kind's path up, then count each kind's batch: 32 concurrent coroutines."""
    counts = {"cached": args.cached, "uncached": args.uncached, "live": args.cached,
              "limited": args.limited}  # fmt: skip

    async def batch(kind: str, requests: int) -> None:
        async def worker(count: int) -> None:
            for n in range(count):
                path = path_of(kind, n)
                status = await call(app, path, headers_of(kind))
                if status != 200:
                    raise RuntimeError(f"{path} answered {status}")

        each = requests // CONCURRENCY
        await asyncio.gather(*(worker(each) for _ in range(CONCURRENCY)))

    for kind in kinds:  # every path warmed up
        await batch(kind, 2 * CONCURRENCY)
    for kind in kinds:
        callgrind("--zero")
        callgrind("--instr=on")
        await batch(kind, counts[kind])
        callgrind("--instr=off")
        callgrind(f"--dump={kind}")


async def drive_bare(args: argparse.Namespace) -> None:
    """bench/bare_app.py: its /health/live and its rate-limited /limited."""
    sys.path.insert(0, str(BENCH))
    app = importlib.import_module("bare_app").app
    paths = {"live": "/health/live", "limited": "/limited"}
    async with app.router.lifespan_context(app):
        await run_batches(app, args, args.kinds, lambda kind, _: paths[kind],
                          lambda _: [(b"host", b"bench")])  # fmt: skip


async def drive(project: Path, args: argparse.Namespace) -> None:
    import httpx

    package = next(
        line.split(": ", 1)[1]
        for line in (project / ".copier-answers.yml").read_text().splitlines()
        if line.startswith("package_name: ")
    )
    for name in DEADLINES:
        with contextlib.suppress(ModuleNotFoundError):
            importlib.import_module(f"{package}.{name}").REDIS_TIMEOUT_SECONDS = 60.0
    app = importlib.import_module(f"{package}.main").create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            login = await client.post(
                "/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            login.raise_for_status()
            token = login.json()["access_token"]
            me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
            owner = me.json()["id"]
        rows = HOT_ITEMS + 2 * args.uncached + 100
        insert = (
            "INSERT INTO items (name, description, owner_id) SELECT 'item ' || n, "
            f"'bench item', {owner} FROM generate_series(1, {rows}) AS n"
        )
        await asyncio.to_thread(
            subprocess.run, [*PSQL, "-d", args.database, "-c", insert], check=True
        )
        headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
        anonymous = [(b"host", b"bench")]  # the rate-limited route: counted by address
        hot = range(1, HOT_ITEMS + 1)
        cold = iter(range(HOT_ITEMS + 1, rows + 1))

        def path_of(kind: str, n: int) -> str:
            if kind == "live":
                return "/health/live"
            if kind == "limited":
                return "/api/v1/info"
            return f"/api/v1/items/{hot[n % HOT_ITEMS] if kind == 'cached' else next(cold)}"

        for item in hot:  # every cached read of a batch hits
            await call(app, f"/api/v1/items/{item}", headers)
        await run_batches(app, args, args.kinds, path_of,
                          lambda kind: anonymous if kind == "limited" else headers)  # fmt: skip


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
