"""Publishing to a real `wheelhub serve` started by the test, then pip installing the label."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.support.hub as hub_testing
import wheelhub.server as hub_server
from tests.publish.conftest import CliRunner, Pkg, import_from, make_wheelhouse, pip_install


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[object]:
    with hub_testing.running_hub(tmp_path / "hub") as running:
        yield running


def test_publish_to_hub_label_from_branch_then_pip_install(
        cli: CliRunner, hub: object, wheelhouse: Path, tmp_path: Path,
        clean_venv: Path) -> None:
    token = hub_server.create_token(hub.root, owner="acme", scope="upload")  # type: ignore[attr-defined]
    env = {"WHEELHUB_TOKEN": token, "GITHUB_ACTIONS": "true", "GITHUB_HEAD_REF": "feature/x",
           "GITHUB_REF_NAME": "7/merge"}
    to = f"{hub.base_url}/acme"  # type: ignore[attr-defined]
    first = cli("publish", "-w", str(wheelhouse), "--to", to, env=env)
    assert first.code == 0, first.err
    assert first.last_line == "2 uploaded, 0 skipped, 0 failed"
    assert "label feature-x" in first.out
    assert token not in first.out + first.err

    again = cli("publish", "-w", str(wheelhouse), "--to", to, env=env)
    assert (again.code, again.last_line) == (0, "0 uploaded, 2 skipped, 0 failed")

    target = tmp_path / "site"
    index = hub.index_url("acme", "feature-x")  # type: ignore[attr-defined]
    proc = pip_install(clean_venv, index, target, "alpha", "beta-pkg")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert import_from(target, "alpha", clean_venv) == "1.0"
    # the main label did not get them
    assert pip_install(clean_venv, hub.index_url("acme", "main"),  # type: ignore[attr-defined]
                       tmp_path / "other", "alpha").returncode != 0


def test_hub_token_for_another_label_glob_is_refused(
        cli: CliRunner, hub: object, tmp_path: Path) -> None:
    token = hub_server.create_token(hub.root, owner="acme", scope="upload",  # type: ignore[attr-defined]
                                    label_glob="release-*")
    house = make_wheelhouse(tmp_path / "house", [Pkg("alpha"), Pkg("beta")])
    result = cli("publish", "-w", str(house), "--to", f"{hub.base_url}/acme",  # type: ignore[attr-defined]
                 "--label", "feature-x", env={"WHEELHUB_TOKEN": token})
    assert result.code == 3
    assert "$WHEELHUB_TOKEN (value masked): HTTP 403" in result.err
    assert token not in result.out + result.err


def test_hub_same_name_different_bytes_is_a_conflict(
        cli: CliRunner, hub: object, tmp_path: Path) -> None:
    token = hub_server.create_token(hub.root, owner="acme", scope="upload")  # type: ignore[attr-defined]
    to = f"{hub.base_url}/acme"  # type: ignore[attr-defined]
    env = {"WHEELHUB_TOKEN": token}
    old = make_wheelhouse(tmp_path / "old", [Pkg("alpha", marker="old")])
    assert cli("publish", "-w", str(old), "--to", to, "--label", "dev", env=env).code == 0
    new = make_wheelhouse(tmp_path / "new", [Pkg("alpha", marker="new"), Pkg("gamma")])
    result = cli("publish", "-w", str(new), "--to", to, "--label", "dev", env=env)
    assert result.code == 1
    assert result.last_line == "1 uploaded, 0 skipped, 1 failed"
    assert "conflict" in result.out
