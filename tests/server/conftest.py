"""Fixtures for the hub: a real `wheelhub serve` on a free loopback port, tiny wheels, tokens."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dists import make_wheel
from tests.support.hub import HubProcess, running_hub
from tests.support.pip import offline_pip_env
from wheelhub.server import create_token

_counter = itertools.count()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """One real server per test module, with the access log on (to check tokens stay out)."""
    root = tmp_path_factory.mktemp("hub") / "root"
    with running_hub(root, extra_args=["--access-log", "--max-upload-size", "2M"]) as process:
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
