"""Publishing to a real `wheelhub serve` started by the test, then pip installing the label."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import CliRunner
from tests.support.dists import Pkg, make_wheelhouse
from tests.support.hub import HubProcess, http, running_hub
from tests.support.pip import installed_version, pip_install
from wheelhub.server import create_token


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    with running_hub(tmp_path / "hub") as running:
        yield running


def test_publish_to_hub_label_from_branch_then_pip_install(
        cli: CliRunner, hub: HubProcess, wheelhouse: Path, tmp_path: Path,
        clean_venv: Path) -> None:
    token = create_token(hub.root, owner="acme", scope="upload")
    env = {"WHEELHUB_TOKEN": token, "GITHUB_ACTIONS": "true", "GITHUB_HEAD_REF": "feature/x",
           "GITHUB_REF_NAME": "7/merge"}
    to = f"{hub.base_url}/acme"
    first = cli("publish", "-w", str(wheelhouse), "--to", to, env=env)
    assert first.code == 0, first.err
    assert first.last_line == "2 uploaded, 0 skipped, 0 failed"
    assert "label feature-x" in first.out
    assert token not in first.out + first.err
    # The branch label was created on main (labels.bases), through the hub's label API.
    labels = json.loads(http(f"{hub.base_url}/api/v1/acme/labels").body)
    assert {lab["name"]: lab["bases"] for lab in labels["labels"]} == {
        "feature-x": ["main"], "main": []}

    again = cli("publish", "-w", str(wheelhouse), "--to", to, env=env)
    assert (again.code, again.last_line) == (0, "0 uploaded, 2 skipped, 0 failed")

    target = tmp_path / "site"
    proc = pip_install(clean_venv, hub.index_url("acme", "feature-x"), target, "alpha",
                       "beta-pkg")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert installed_version(clean_venv, target, "alpha") == "1.0"
    # the main label did not get them
    assert pip_install(clean_venv, hub.index_url("acme", "main"), tmp_path / "other",
                       "alpha").returncode != 0


def test_hub_token_for_another_label_glob_is_refused(
        cli: CliRunner, hub: HubProcess, tmp_path: Path) -> None:
    token = create_token(hub.root, owner="acme", scope="upload", label_glob="release-*")
    house = make_wheelhouse(tmp_path / "house", [Pkg("alpha"), Pkg("beta")])
    result = cli("publish", "-w", str(house), "--to", f"{hub.base_url}/acme",
                 "--label", "feature-x", env={"WHEELHUB_TOKEN": token})
    assert result.code == 3
    assert "$WHEELHUB_TOKEN (value masked): HTTP 403" in result.err
    assert token not in result.out + result.err


def test_hub_same_name_different_bytes_is_a_conflict(
        cli: CliRunner, hub: HubProcess, tmp_path: Path) -> None:
    token = create_token(hub.root, owner="acme", scope="upload")
    to = f"{hub.base_url}/acme"
    env = {"WHEELHUB_TOKEN": token}
    old = make_wheelhouse(tmp_path / "old", [Pkg("alpha", marker="old")])
    assert cli("publish", "-w", str(old), "--to", to, "--label", "dev", env=env).code == 0
    new = make_wheelhouse(tmp_path / "new", [Pkg("alpha", marker="new"), Pkg("gamma")])
    result = cli("publish", "-w", str(new), "--to", to, "--label", "dev", env=env)
    assert result.code == 1
    assert result.last_line == "1 uploaded, 0 skipped, 1 failed"
    assert "conflict" in result.out


def test_publish_records_test_verdicts_that_promote_require_tested_reads(
        cli: CliRunner, hub: HubProcess, tmp_path: Path) -> None:
    from wheelhub.server import open_storage
    from wheelhub.server.client import LocalClient

    token = create_token(hub.root, owner="acme", scope="upload")
    house = make_wheelhouse(tmp_path / "house", [Pkg("alpha"), Pkg("beta", test="untested")])
    env = {"WHEELHUB_TOKEN": token}
    result = cli("publish", "-w", str(house), "--to", f"{hub.base_url}/acme", "--label", "testing",
                 "--allow-untested", env=env)
    assert result.code == 0, result.err
    storage = open_storage(hub.root)
    try:
        verdicts = {name: p.verdict for name, p in storage.provenance("acme", "testing").items()}
    finally:
        storage.close()
    assert verdicts == {"alpha-1.0-py3-none-any.whl": "passed",
                        "beta-1.0-py3-none-any.whl": "untested"}
    client = LocalClient(hub.root)
    try:
        result_json = client.label("acme", "testing", "promote", {"to": "stable",
                                                                  "require": "tested"})
    finally:
        client.close()
    assert result_json["left_behind"] == [["beta-1.0-py3-none-any.whl", "test verdict: untested"]]
    storage = open_storage(hub.root)
    try:
        assert [r.filename for r in storage.list_files("acme", "stable")] == [
            "alpha-1.0-py3-none-any.whl"]
    finally:
        storage.close()
