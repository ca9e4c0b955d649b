"""Fixtures for publish tests: the CLI, wheelhouses, a real pypiserver, a clean venv.

The helpers themselves live in :mod:`tests.support`; ``TOKEN`` and ``PypiServer`` belong to
the pypiserver fixture defined here.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli import CliRunner, cli_runner
from tests.support.dists import Pkg, make_wheelhouse
from tests.support.pip import make_venv
from tests.support.processes import free_port, running

TOKEN = "whk_testtoken_0123456789abcdef"  # the test pypiserver's password


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> CliRunner:
    """``wheelhub`` with only the publish commands."""
    return cli_runner(monkeypatch, capsys, tmp_path,
                      ("wheelhub.cli.publish", "wheelhub.cli.label_for"))


CI_VARS = ("GITHUB_ACTIONS", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "GITHUB_REF", "GITHUB_REF_TYPE",
           "TRAVIS", "TRAVIS_BRANCH", "TRAVIS_PULL_REQUEST_BRANCH", "TRAVIS_TAG",
           "GITLAB_CI", "CI_COMMIT_REF_NAME", "CI_COMMIT_TAG", "WHEELHUB_LABEL", "WHEELHUB_TOKEN",
           "ANACONDA_TOKEN")


@pytest.fixture(autouse=True)
def _no_ci_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """This suite may itself run in CI: its branch variables must not leak into tests."""
    for var in CI_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    """Two tested wheels."""
    return make_wheelhouse(tmp_path / "wheelhouse", [Pkg("alpha"), Pkg("beta-pkg", "2.0")])


@pytest.fixture(scope="session")
def clean_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh venv (its own pip, no wheelhub); tests install into a --target."""
    return make_venv(tmp_path_factory.mktemp("venv"))


@dataclass(frozen=True)
class PypiServer:
    url: str  # upload + index root, e.g. http://127.0.0.1:PORT/
    packages: Path
    username: str
    password: str


@pytest.fixture
def pypiserver(tmp_path: Path) -> Iterator[PypiServer]:
    """A real pypiserver with an htpasswd (user 'ci', password TOKEN), uploads need auth."""
    packages = tmp_path / "pypiserver-packages"
    packages.mkdir()
    htpasswd = tmp_path / "htpasswd"
    # apache "{SHA}" format is understood by passlib, which pypiserver uses.
    digest = base64.b64encode(hashlib.sha1(TOKEN.encode()).digest()).decode()
    htpasswd.write_text(f"ci:{{SHA}}{digest}\n")
    port = free_port()
    argv = [str(Path(sys.executable).parent / "pypi-server"), "run", "-p", str(port),
            "-i", "127.0.0.1", "--server", "auto", "-a", "update", "-P", str(htpasswd),
            "--hash-algo", "sha256", str(packages)]
    with running(argv, f"http://127.0.0.1:{port}/simple/", log=tmp_path / "pypiserver.log"):
        yield PypiServer(url=f"http://127.0.0.1:{port}/", packages=packages,
                         username="ci", password=TOKEN)
