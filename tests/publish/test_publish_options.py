"""`wheelhub publish` reads its options from the layered table, like build and test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import CliRunner
from tests.support.dists import Pkg, make_wheelhouse


@pytest.fixture(autouse=True)
def _no_hub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WHEELHUB_HUB", "WHEELHUB_WHEELHOUSE", "WHEELHUB_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def test_wheelhouse_from_wheelhub_yaml_and_from_the_environment(cli: CliRunner,
                                                                 tmp_path: Path) -> None:
    index = tmp_path / "index"
    make_wheelhouse(tmp_path / "built", [Pkg("alpha")])
    (tmp_path / "wheelhub.yaml").write_text("wheelhouse: built\n")
    result = cli("publish", "--to", f"file://{index}", "--label", "dev")
    assert (result.code, result.last_line) == (0, "1 uploaded, 0 skipped, 0 failed"), result.err
    assert (index / "dev" / "simple" / "alpha" / "index.html").is_file()

    make_wheelhouse(tmp_path / "other", [Pkg("beta")])
    result = cli("publish", "--to", f"file://{index}", "--label", "dev",
                 env={"WHEELHUB_WHEELHOUSE": str(tmp_path / "other")})  # env beats the file
    assert (result.code, result.last_line) == (0, "1 uploaded, 0 skipped, 0 failed"), result.err
    assert (index / "dev" / "simple" / "beta" / "index.html").is_file()


def test_target_and_label_from_the_publish_section_relative_to_the_checkout(
        cli: CliRunner, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    make_wheelhouse(checkout / "wheelhouse", [Pkg("alpha")])
    index = tmp_path / "index"
    (checkout / "wheelhub.yaml").write_text(
        f"publish:\n  to: file://{index}\n  label: staging\n  dry_run: true\n")
    result = cli("publish", "-C", str(checkout))
    assert result.code == 0, result.err
    assert "-> label staging" in result.out
    assert result.last_line == "1 uploaded, 0 skipped, 0 failed"  # would-upload
    assert "would-upload" in result.out


def test_no_target_anywhere_is_one_usage_error(cli: CliRunner, wheelhouse: Path) -> None:
    result = cli("publish", "-w", str(wheelhouse), "--label", "dev")
    assert result.code == 2
    assert "error: publishing needs a target: --to URL, $WHEELHUB_HUB, or publish.to" in result.err
    result = cli("publish", "-w", str(wheelhouse), "--label", "dev",
                 env={"WHEELHUB_HUB": "ftp://nowhere"})
    assert result.code == 2 and "--to 'ftp://nowhere' is not usable" in result.err


def test_a_digit_first_label_suits_the_hub_rule_but_not_anaconda(cli: CliRunner,
                                                                 wheelhouse: Path,
                                                                 tmp_path: Path) -> None:
    index = tmp_path / "index"
    result = cli("publish", "-w", str(wheelhouse), "--to", f"file://{index}", "--label", "2024")
    assert result.code == 0, result.err
    result = cli("publish", "-w", str(wheelhouse), "--to", "https://pypi.anaconda.org/acme",
                 "--label", "2024")
    assert result.code == 2
    assert "error: label '2024' is not valid" in result.err
    assert "anaconda.org labels start with a letter" in result.err
