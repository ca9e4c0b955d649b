"""`wheelhub outdated` against a real hub that has newer versions of some pins, and
`--bump` rewriting the file: comments, order and markers kept, -e and URL lines left."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dists import make_wheel
from tests.support.hub import HubProcess, running_hub, upload
from tests.support.processes import free_port
from wheelhub.build.requirements import parse_requirements
from wheelhub.errors import UsageError
from wheelhub.outdated import CheckOptions, bump, check
from wheelhub.server import create_token

WHEELHUB = str(Path(sys.executable).with_name("wheelhub"))
OWNER, LABEL = "acme", "main"
ON_THE_HUB = {"whfix-pure": ["1.0", "1.1", "1.2rc1", "2.0"], "whfix-dependent": ["1.0", "1.5"],
              "whfix-clib": ["1.0"], "whfix-current": ["2.0"]}
REQUIREMENTS = """\
# the team's set
whfix-pure==1.0   # pinned for the old API
whfix-dependent == 1.0 ; python_version >= "3.8"
whfix-clib==1.0
whfix-current[extra]==2.0
"""
AWKWARD = REQUIREMENTS + """\
-e ./local-checkout
whfix-url @ https://example.invalid/whfix_url-1.0-py3-none-any.whl
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, str]]:
    base = tmp_path_factory.mktemp("outdated")
    with running_hub(base / "hub") as process:
        token = create_token(process.root, owner=OWNER, scope="upload")
        for name, versions in ON_THE_HUB.items():
            for version in versions:
                wheel = make_wheel(base / "dists", name, version)
                reply = upload(process.upload_url(OWNER, LABEL), wheel, token)
                assert reply.status in (200, 201), reply.text
        yield process, token


def outdated(project: Path, index: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WHEELHUB, "outdated", "--index-url", index, *args], cwd=project,
                          capture_output=True, text=True, timeout=120, check=False)


def index_of(hub: tuple[HubProcess, str]) -> str:
    process, token = hub
    return process.index_url(OWNER, LABEL, token)


def test_lists_exactly_the_pins_with_newer_releases(hub: tuple[HubProcess, str],
                                                    tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(REQUIREMENTS)
    result = outdated(tmp_path, index_of(hub), "--json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    found = {f["project"]: f for f in data["findings"]}
    assert sorted(p for p, f in found.items() if f["outdated"]) == ["whfix-dependent",
                                                                    "whfix-pure"]
    assert found["whfix-pure"]["newest"] == "2.0"  # 1.2rc1 is a pre-release: not asked for
    assert found["whfix-pure"]["bump_to"] == "1.1"  # same major without --major
    assert found["whfix-dependent"]["released"]  # the hub's PEP 700 upload-time
    assert token_free(result.stdout + result.stderr, hub[1])
    pre = json.loads(outdated(tmp_path, index_of(hub), "--json", "--pre").stdout)
    assert {f["project"]: f["bump_to"] for f in pre["findings"]}["whfix-pure"] == "1.2rc1"


def test_bump_keeps_comments_order_and_markers_and_still_parses(hub: tuple[HubProcess, str],
                                                                tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(REQUIREMENTS)
    result = outdated(tmp_path, index_of(hub), "--bump", "--major")
    assert result.returncode == 0, result.stderr
    assert path.read_text() == REQUIREMENTS.replace("whfix-pure==1.0", "whfix-pure==2.0").replace(
        "whfix-dependent == 1.0", "whfix-dependent == 1.5")
    assert "-whfix-pure==1.0   # pinned for the old API" in result.stdout  # the diff
    assert "+whfix-pure==2.0   # pinned for the old API" in result.stdout
    parsed = parse_requirements(path)  # what `wheelhub build` reads
    assert [str(line.requirement) for line in parsed.requirements][:2] == [
        "whfix-pure==2.0", 'whfix-dependent==1.5; python_version >= "3.8"']
    assert outdated(tmp_path, index_of(hub)).returncode == 0  # nothing is behind any more
    path.write_text(REQUIREMENTS)
    only = outdated(tmp_path, index_of(hub), "--bump", "--only", "whfix-dependent")
    assert only.returncode == 0, only.stderr
    assert "whfix-pure==1.0" in path.read_text() and "whfix-dependent == 1.5" in path.read_text()


def test_editable_and_url_lines_are_reported_and_left_alone(hub: tuple[HubProcess, str],
                                                            tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(AWKWARD)
    result = outdated(tmp_path, index_of(hub), "--bump")
    assert result.returncode == 0, result.stderr
    assert f"{path}:6: -e ./local-checkout: editable requirement (left as it is)" in result.stderr
    assert f"{path}:7: whfix-url @ https" in result.stderr and "URL requirement" in result.stderr
    text = path.read_text()
    assert text.splitlines()[5:] == AWKWARD.splitlines()[5:]
    assert "whfix-pure==1.1" in text


def test_unreachable_index_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(REQUIREMENTS)
    result = outdated(tmp_path, f"http://127.0.0.1:{free_port()}/simple/", "--bump")
    assert result.returncode == 3
    assert "error: cannot read the index http://127.0.0.1:" in result.stderr
    assert "connection refused; nothing was written" in result.stderr
    assert path.read_text() == REQUIREMENTS
    missing = outdated(tmp_path, "http://127.0.0.1:1/", "-r", "nope.txt")
    assert missing.returncode == 2 and "requirements file" in missing.stderr


def test_bump_refuses_a_result_that_does_not_parse(hub: tuple[HubProcess, str],
                                                   tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(REQUIREMENTS)
    report = check(CheckOptions(requirements=path, index_url=index_of(hub)))
    broken = dataclasses.replace(report, findings=tuple(
        dataclasses.replace(f, bump_to="2.0 @@") if f.project == "whfix-pure" else f
        for f in report.findings))
    with pytest.raises(UsageError, match="refusing to write .* would not parse"):
        bump(broken)
    assert path.read_text() == REQUIREMENTS


def token_free(text: str, token: str) -> bool:
    return token not in text
