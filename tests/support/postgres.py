"""A real PostgreSQL for tests: Debian's server, ``initdb`` into a temp dir, a free port.

    with running_postgres(tmp_path / "pg") as pg:
        url = pg.new_database()   # postgresql://postgres@127.0.0.1:PORT/hub_1

As root (the usual CI container) the server runs as the ``postgres`` user, which
``initdb`` requires; unix sockets go into the temp dir, never /var/run.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import ServerDidNotStart, free_port

BIN = Path("/usr/lib/postgresql")


def _bin(name: str) -> str:
    """The newest installed server's *name* (Debian keeps them off PATH)."""
    versions = sorted(BIN.glob("*/bin"), key=lambda p: int(p.parent.name)) if BIN.exists() else []
    found = shutil.which(name) or (str(versions[-1] / name) if versions else None)
    if found is None or not Path(found).exists():
        raise ServerDidNotStart(f"{name} not found: run scripts/install-system-deps.sh "
                                "(Debian's postgresql)")
    return found


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass(kw_only=True, slots=True)
class Postgres:
    port: int
    directory: Path
    process: subprocess.Popen[bytes]
    _names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def new_database(self) -> str:
        """A fresh, empty database's URL."""
        import psycopg

        name = f"hub_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def stop(self) -> None:
        _stop(self.process, self.directory)

    def start(self) -> None:
        """Start it again on the same port and data (after :meth:`stop`)."""
        self.process = _start(self.directory, self.port)


def _start(directory: Path, port: int, *, durable: bool = False) -> subprocess.Popen[bytes]:
    import psycopg

    log = (directory / "server.log").open("ab")
    process = subprocess.Popen(
        _as_server_user([_bin("postgres"), "-D", str(directory / "data"), "-p", str(port),
                         "-h", "127.0.0.1", "-k", str(directory), "-c", f"fsync={'on' if durable else 'off'}",
                         "-c", "max_connections=200"]),
        stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerDidNotStart(f"postgres exited with {process.returncode}: see "
                                    f"{directory / 'server.log'}")
        try:
            psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres",
                            connect_timeout=2).close()
            return process
        except psycopg.OperationalError:
            time.sleep(0.1)
    _stop(process, directory)
    raise ServerDidNotStart(f"postgres on port {port} did not answer within 30s")


def _stop(process: subprocess.Popen[bytes], directory: Path) -> None:
    """A fast shutdown through pg_ctl (runuser does not pass signals on to the server)."""
    if process.poll() is None:
        subprocess.run(_as_server_user([_bin("pg_ctl"), "stop", "-D", str(directory / "data"),
                                        "-m", "fast", "-w"]),
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running_postgres(directory: Path, *, durable: bool = False) -> Iterator[Postgres]:
    """initdb into *directory*, start the server on a free loopback port, stop it after;
    *durable* keeps fsync on (benchmarks: as SQLite's synchronous=FULL), tests run without."""
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")  # its parents must let it through
    subprocess.run(_as_server_user([_bin("initdb"), "-D", str(directory / "data"), "-U",
                                    "postgres", "--auth=trust", "-E", "UTF8",
                                    "--no-sync"]),
                   check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    server = Postgres(port=port, directory=directory, process=_start(directory, port, durable=durable))
    try:
        yield server
    finally:
        server.stop()
