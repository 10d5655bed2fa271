"""Private PostgreSQL and Redis servers for the fault tier (tests/test_faults.py).

A fault test stops, kills and restarts its servers, so it never uses the machine's shared ones:
`private_postgres()` makes a throwaway cluster with `initdb` and runs it with `pg_ctl` on a
spare port (as the `postgres` user when the tests run as root: PostgreSQL refuses to run as
root), and `private_redis()` runs a `redis-server` on a spare port with its own pidfile. Every
process is stopped by the pid it wrote, never by name.

Each server lives in a directory under /tmp/tpl-faults/ that records the pid of the test process
that owns it. A test process that dies without cleaning up (killed, or the machine's OOM
killer) leaves its directory behind: the next run stops the servers of every directory whose
owner is gone, checking that each pid still runs the program it started, and removes it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port

STATE_ROOT = Path(tempfile.gettempdir()) / "tpl-faults"
OWNER_FILE = "owner.pid"


def _as_postgres() -> dict[str, str]:
    """subprocess arguments that run a command as the postgres user when we are root."""
    return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}


def postgres_bin() -> Path:
    """The directory of initdb and pg_ctl: Debian keeps them off PATH, under
    /usr/lib/postgresql/<version>/bin (the newest is used); else wherever PATH has them."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parent.parent.name.split(".")[0]),
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise RuntimeError(
        "initdb not found: install PostgreSQL's server package (apt-get install postgresql)"
    )


def redis_server_bin() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("redis-server not found: apt-get install redis-server")
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _runs(pid: int, program: str) -> bool:
    """Whether `pid` is alive and runs `program` (a pid can be reused by another process)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return program.encode() in cmdline


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.02)
    return True


def _kill(pid: int, program: str) -> None:
    if _runs(pid, program):
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 10)


def _state_directory(kind: str) -> Path:
    sweep_stale()
    STATE_ROOT.mkdir(mode=0o755, exist_ok=True)
    os.chmod(STATE_ROOT, 0o755)  # the postgres user must reach its data directory
    directory = Path(tempfile.mkdtemp(prefix=f"{kind}-{os.getpid()}-", dir=STATE_ROOT))
    os.chmod(directory, 0o755)
    (directory / OWNER_FILE).write_text(str(os.getpid()))
    return directory


def sweep_stale() -> list[Path]:
    """Stop the servers of dead test processes and remove their directories."""
    removed: list[Path] = []
    if not STATE_ROOT.is_dir():
        return removed
    for directory in STATE_ROOT.iterdir():
        try:
            owner = int((directory / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if _alive(owner):
            continue
        pidfile = directory / "data" / "postmaster.pid"
        if pidfile.is_file():
            with contextlib.suppress(ValueError, OSError):
                _kill(int(pidfile.read_text().split()[0]), "postgres")
        pidfile = directory / "redis.pid"
        if pidfile.is_file():
            with contextlib.suppress(ValueError, OSError):
                _kill(int(pidfile.read_text().strip()), "redis-server")
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(directory)
    return removed


@dataclass
class PrivatePostgres:
    directory: Path
    port: int
    bin: Path

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), *args],
            check=True,
            capture_output=True,
            timeout=timeout,
            **_as_postgres(),  # type: ignore[call-overload]
        )

    def _options(self) -> list[str]:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        return ["-o", options, "-l", str(self.directory / "postgres.log")]

    def start(self) -> None:
        self._pg_ctl("start", "-w", *self._options())

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("stop", "-w", "-m", mode)

    def restart(self, mode: str = "fast") -> float:
        """`pg_ctl restart -m <mode>`; the seconds until it accepts connections again."""
        started = time.monotonic()
        self._pg_ctl("restart", "-w", "-m", mode, *self._options())
        return time.monotonic() - started

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAt",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return result.stdout.strip()

    def kill(self) -> None:
        """Stop it immediately, by its own pid file (the last resort of the clean-up)."""
        pid = self.pid()
        if pid is not None:
            _kill(pid, "postgres")


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A throwaway PostgreSQL cluster on a spare 127.0.0.1 port (trust authentication)."""
    directory = _state_directory("postgres")
    server = PrivatePostgres(directory, free_port(), postgres_bin())
    try:
        server.data.mkdir(mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
            shutil.chown(server.data, "postgres", "postgres")
        subprocess.run(
            [
                str(server.bin / "initdb"),
                "-D",
                str(server.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",  # a throwaway cluster: initdb need not wait for the disk
            ],
            check=True,
            capture_output=True,
            timeout=120,
            **_as_postgres(),  # type: ignore[call-overload]
        )
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            server.stop("immediate")
        server.kill()
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class PrivateRedis:
    directory: Path
    port: int

    @property
    def pidfile(self) -> Path:
        return self.directory / "redis.pid"

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.pidfile.unlink(missing_ok=True)
        subprocess.run(
            [
                redis_server_bin(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.pidfile),
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        deadline = time.monotonic() + 10
        while not self.answers():
            if time.monotonic() > deadline:
                log = (self.directory / "redis.log").read_text(errors="replace")
                raise RuntimeError(f"redis-server did not start:\n{log}")
            time.sleep(0.02)

    def answers(self) -> bool:
        import redis

        client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: no shutdown, no goodbye to clients."""
        pid = self.pid()
        if pid is not None:
            _kill(pid, "redis-server")
        self.pidfile.unlink(missing_ok=True)


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    """A redis-server of our own on a spare 127.0.0.1 port, nothing persisted."""
    directory = _state_directory("redis")
    server = PrivateRedis(directory, free_port())
    try:
        server.start()
        yield server
    finally:
        server.kill()
        shutil.rmtree(directory, ignore_errors=True)
