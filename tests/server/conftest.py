"""Fixtures for the hub: a real `wheelhub serve` on a free loopback port, tiny wheels, tokens."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dists import make_wheel
from tests.support.hub import HubProcess, running_hub
from tests.support.pip import offline_pip_env
from tests.support.postgres import Postgres, running_postgres
from wheelhub.server import create_token

_counter = itertools.count()
# Both by default; HUB_TEST_BACKENDS=sqlite runs the embedded one alone (not WHEELHUB_*:
# the hub rejects unknown WHEELHUB_ variables in its environment).
BACKENDS = tuple(os.environ.get("HUB_TEST_BACKENDS", "sqlite,postgres").split(","))


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """Debian's PostgreSQL, initdb'd into a temp dir, for the whole session."""
    directory = Path(tempfile.mkdtemp(prefix="wheelhub-pg-"))
    try:
        with running_postgres(directory) as server:
            yield server
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The hub's database: "sqlite" (embedded) or "postgres" (a fresh database)."""
    return str(request.param)


@pytest.fixture(scope="module")
def database(backend: str, request: pytest.FixtureRequest) -> str:
    """``--database`` for a hub of *backend*: "" for SQLite, a new PostgreSQL database."""
    if backend == "sqlite":
        return ""
    server: Postgres = request.getfixturevalue("postgres")
    return server.new_database()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[HubProcess]:
    """One real server per test module and backend, with the access log on (to check
    tokens stay out)."""
    root = tmp_path_factory.mktemp("hub") / "root"
    with running_hub(root, extra_args=["--access-log", "--max-upload-size", "2M"],
                     database=database) as process:
        yield process


@pytest.fixture
def owner(hub: HubProcess) -> str:
    """A fresh owner name per test, so tests sharing a server do not see each other."""
    return f"o{os.getpid()}x{next(_counter)}"


@pytest.fixture
def upload_token(hub: HubProcess, owner: str) -> str:
    return create_token(hub.root, owner=owner, scope="upload")


@pytest.fixture
def admin_token(hub: HubProcess, owner: str) -> str:
    return create_token(hub.root, owner=owner, scope="admin")


@pytest.fixture
def dist_dir(tmp_path: Path) -> Path:
    return tmp_path / "dist"


@pytest.fixture
def wheel(dist_dir: Path) -> Path:
    return make_wheel(dist_dir, "tiny-pkg", "1.0", requires_python=">=3.8")


@pytest.fixture
def pip_env() -> dict[str, str]:
    return offline_pip_env()
