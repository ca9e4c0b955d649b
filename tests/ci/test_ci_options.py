"""`wheelhub ci` decides target, label and token from the options table before any build."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from tests.support.cli import CliRunner, cli_runner
from wheelhub.build.results import BuildResult
from wheelhub.ci import CiResult, markdown_summary
from wheelhub.publish import FileResult, PublishResult
from wheelhub.publish.labels import LabelDecision


@pytest.fixture
def ci(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
       tmp_path: Path) -> CliRunner:
    for name in [n for n in os.environ if n.startswith(("WHEELHUB_", "GITHUB_", "TRAVIS"))]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("CI", raising=False)
    return cli_runner(monkeypatch, capsys, tmp_path, ("wheelhub.cli.ci",))


def test_no_target_fails_before_the_build(ci: CliRunner) -> None:
    result = ci("ci", "--label", "dev")
    assert result.code == 2
    assert "error: publishing needs a target: --to URL, $WHEELHUB_HUB, or publish.to" in result.err
    assert "== build" not in result.out


def test_missing_token_in_ci_fails_before_the_build(ci: CliRunner) -> None:
    result = ci("ci", "--label", "dev", env={"CI": "true", "WHEELHUB_HUB": "http://hub:8080/acme"})
    assert result.code == 2
    assert "error: no token for http://hub:8080/acme: $WHEELHUB_TOKEN is not set" in result.err
    assert "== build" not in result.out
    result = ci("ci", "--label", "dev", "--token-env", "HUB_SECRET",
                env={"CI": "true", "WHEELHUB_HUB": "http://hub:8080/acme"})
    assert "$HUB_SECRET is not set" in result.err


def test_label_from_wheelhub_label_checked_for_the_target_before_the_build(
        ci: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "wheelhub.yaml").write_text("publish:\n  to: https://pypi.anaconda.org/acme\n")
    result = ci("ci", env={"WHEELHUB_LABEL": "42"})
    assert result.code == 2
    assert "error: label '42' is not valid" in result.err
    assert "anaconda.org labels start with a letter" in result.err


def _publish_result(kind: str, index_url: str) -> PublishResult:
    return PublishResult(target="t", kind=kind, label="feature-x", index_url=index_url,
                         files=(FileResult(filename="a-1-py3-none-any.whl", project="a",
                                           status="uploaded"),))


def test_summary_gives_the_pip_line_of_what_was_published(tmp_path: Path) -> None:
    label = LabelDecision(label="feature-x", ref="feature/x", is_tag=False, source="git",
                          rule="sanitized", reason="branch 'feature/x' -> label 'feature-x'")
    built = BuildResult(wheelhouse=tmp_path, entries=())
    index = "http://hub:8080/acme/label/feature-x/simple/"
    published = CiResult(label=label, build=built, publish=_publish_result("hub", index))
    text = markdown_summary(published)
    assert text.startswith("## wheelhub: label `feature-x`")
    assert f"pip install --extra-index-url {index} <package>" in text
    assert "warning: with --extra-index-url pip takes the highest version" in text
    with_upstream = dataclasses.replace(_publish_result("hub", index), upstream=True)
    one_url = markdown_summary(dataclasses.replace(published, publish=with_upstream))
    assert f"pip install --index-url {index} <package>" in one_url
    assert "--extra-index-url" not in one_url
    assert "Publish: 1 uploaded, 0 skipped, 0 failed" in text
    skipped = CiResult(label=label, build=built, publish_skipped_reason="not published: failed")
    assert "pip install" not in markdown_summary(skipped)
    assert "not published: failed" in markdown_summary(skipped)
