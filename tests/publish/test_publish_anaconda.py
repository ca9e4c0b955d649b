"""anaconda.org cannot be reached from here: the client code is checked at its boundary.

A recording stand-in replaces the ``binstar_client`` API object that
``get_server_api(token=...)`` returns; the tests assert what is called, with which label
and files, and that the token never shows in output or logs.
"""

from __future__ import annotations

import hashlib
import zipfile
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

import pytest

import wheelhub.publish.anaconda as anaconda_mod
from tests.support.cli import CliRunner
from tests.support.dists import Pkg, make_wheelhouse

# the error classes the real client raises (pip install 'wheelhub[anaconda]')
binstar_errors = pytest.importorskip("binstar_client.errors")
TOKEN = "an-anaconda-token-0123456789"


class FakeApi:
    def __init__(self, token: str | None, *, files: list[dict[str, Any]] | None = None,
                 unauthorized: bool = False) -> None:
        self.token = token
        self.calls: list[tuple[Any, ...]] = []
        self.files = files or []
        self.unauthorized = unauthorized

    def _record(self, *call: Any) -> None:
        self.calls.append(call)
        if self.unauthorized:
            raise binstar_errors.Unauthorized("Unauthorized", 401)

    def package(self, login: str, name: str) -> dict[str, Any]:
        self._record("package", login, name)
        mine = [f for f in self.files if f["basename"].startswith(name.replace("-", "_"))]
        if not mine:
            raise binstar_errors.NotFound("no such package")
        return {"files": mine}

    def distribution(self, login: str, name: str, version: str, basename: str) -> dict[str, Any]:
        self._record("distribution", login, name, version, basename)
        for f in self.files:
            if f["basename"] == basename:
                return f
        raise binstar_errors.NotFound("no such file")

    def add_package(self, login: str, name: str, summary: str, license: str | None,
                    public: bool = True) -> None:
        self._record("add_package", login, name, summary)

    def release(self, login: str, name: str, version: str) -> dict[str, Any]:
        self._record("release", login, name, version)
        raise binstar_errors.NotFound("no release")

    def add_release(self, login: str, name: str, version: str, *rest: Any) -> None:
        self._record("add_release", login, name, version)

    def upload(self, login: str, name: str, version: str, basename: str, handle: Any,
               kind: str, description: str, *, attrs: dict[str, Any],
               channels: list[str]) -> dict[str, Any]:
        data = handle.read()
        self._record("upload", login, name, version, basename, kind, tuple(channels), len(data))
        self.files.append({"basename": basename, "sha256": hashlib.sha256(data).hexdigest(),
                           "labels": list(channels)})
        return {}

    def add_channel(self, label: str, login: str, name: str, version: str, basename: str) -> None:
        self._record("add_channel", label, login, name, version, basename)
        for f in self.files:
            if f["basename"] == basename:
                f["labels"] = [*f["labels"], label]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeApi]:
    made: dict[str, FakeApi] = {}

    def factory(token: str | None) -> FakeApi:
        made["api"] = FakeApi(token, **made.pop("kwargs", {}))  # type: ignore[arg-type]
        return made["api"]

    monkeypatch.setattr(anaconda_mod, "default_api", factory)
    return made


def _publish(cli: CliRunner, house: Path, *before: str) -> Any:
    return cli(*before, "publish", "-w", str(house), "--to", "https://pypi.anaconda.org/acme",
               env={"ANACONDA_TOKEN": TOKEN, "GITHUB_ACTIONS": "true",
                    "GITHUB_REF_NAME": "feature/x"})


def test_uploads_with_label_and_token_from_anaconda_token(
        cli: CliRunner, fake: dict[str, FakeApi], tmp_path: Path) -> None:
    house = make_wheelhouse(tmp_path / "house", [Pkg("alpha")])
    result = _publish(cli, house, "-v")
    assert result.code == 0, result.err
    assert result.last_line == "1 uploaded, 0 skipped, 0 failed"
    api = fake["api"]
    assert api.token == TOKEN  # handed to get_server_api(token=...), not on a command line
    wheel = house / "alpha-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:  # the package is created with the wheel's summary
        summary = HeaderParser().parsestr(
            archive.read("alpha-1.0.dist-info/METADATA").decode())["Summary"]
    size = wheel.stat().st_size
    assert api.calls == [
        ("package", "acme", "alpha"),
        ("distribution", "acme", "alpha", "1.0", "alpha-1.0-py3-none-any.whl"),
        ("package", "acme", "alpha"),
        ("add_package", "acme", "alpha", summary),
        ("release", "acme", "alpha", "1.0"),
        ("add_release", "acme", "alpha", "1.0"),
        ("upload", "acme", "alpha", "1.0", "alpha-1.0-py3-none-any.whl", "pypi",
         ("feature-x",), size),
        ("package", "acme", "alpha"),  # the check afterwards
    ]
    assert TOKEN not in result.out + result.err


def test_file_already_there_in_label_is_skipped(
        cli: CliRunner, fake: dict[str, FakeApi], tmp_path: Path) -> None:
    house = make_wheelhouse(tmp_path / "house", [Pkg("alpha")])
    from wheelhub.util.fileio import sha256_file

    sha = sha256_file(house / "alpha-1.0-py3-none-any.whl")
    fake["kwargs"] = {"files": [{"basename": "alpha-1.0-py3-none-any.whl", "sha256": sha,
                                 "labels": ["feature-x"]}]}  # type: ignore[assignment]
    result = _publish(cli, house)
    assert result.last_line == "0 uploaded, 1 skipped, 0 failed"
    assert [c[0] for c in fake["api"].calls] == ["package"]


def test_file_in_another_label_gets_this_label_added(
        cli: CliRunner, fake: dict[str, FakeApi], tmp_path: Path) -> None:
    house = make_wheelhouse(tmp_path / "house", [Pkg("alpha")])
    from wheelhub.util.fileio import sha256_file

    entry = {"basename": "alpha-1.0-py3-none-any.whl",
             "sha256": sha256_file(house / "alpha-1.0-py3-none-any.whl"), "labels": ["main"]}
    fake["kwargs"] = {"files": [entry]}  # type: ignore[assignment]
    result = _publish(cli, house)
    assert result.last_line == "1 uploaded, 0 skipped, 0 failed"
    assert ("add_channel", "feature-x", "acme", "alpha", "1.0",
            "alpha-1.0-py3-none-any.whl") in fake["api"].calls
    assert not [c for c in fake["api"].calls if c[0] == "upload"]


def test_unauthorized_names_anaconda_token_masked(
        cli: CliRunner, fake: dict[str, FakeApi], tmp_path: Path) -> None:
    house = make_wheelhouse(tmp_path / "house", [Pkg("alpha")])
    fake["kwargs"] = {"unauthorized": True}  # type: ignore[assignment]
    result = _publish(cli, house)
    assert result.code == 3
    assert "refused the token from $ANACONDA_TOKEN (value masked): HTTP 401" in result.err
    assert TOKEN not in result.out + result.err
