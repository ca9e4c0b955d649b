from __future__ import annotations

from pathlib import Path

import pytest

from wheelhub.build.errors import RequirementsError
from wheelhub.build.requirements import allowed_formats, parse_requirements


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_pip_syntax_with_includes_markers_and_build_options(tmp_path: Path) -> None:
    write(tmp_path / "base.txt", "attrs>=23  # comment\n")
    write(tmp_path / "pins.txt", "idna==3.7\n")
    req = write(tmp_path / "requirements.txt", (
        "# top comment\n-r base.txt\n-c pins.txt\nrequests[socks]==2.32.3 ; python_version >= '3.8'\n"
        "PyYAML \\\n  ==6.0.2\n--no-binary pyyaml\n--find-links ./dists\n"))
    parsed = parse_requirements(req)
    assert [str(r) for r in parsed.requirements] == [
        "attrs>=23", 'requests[socks]==2.32.3; python_version >= "3.8"', "PyYAML==6.0.2"]
    assert parsed.requirements[2].location == f"{req}:5"
    assert [str(c) for c in parsed.constraints] == ["idna==3.7"]
    assert parsed.pip_options == ("--no-binary", "pyyaml", "--find-links", "./dists")
    # Constraints for pip cannot carry extras.
    assert "requests==2.32.3" in parsed.constraint_text()


def test_every_bad_line_is_reported_at_once(tmp_path: Path) -> None:
    req = write(tmp_path / "requirements.txt",
                "good==1.0\nbad==\n-r missing.txt\nalso bad!!\n-e .\n--frobnicate\n")
    with pytest.raises(RequirementsError) as caught:
        parse_requirements(req)
    problems = caught.value.problems
    assert len(problems) == 5
    assert problems[0].startswith(f"{req}:2: bad==:")
    assert f"{req}:3: " in problems[1] and "missing.txt: file not found" in problems[1]
    assert problems[2].startswith(f"{req}:4: also bad!!:")
    assert "editable" in problems[3]
    assert "unsupported option '--frobnicate'" in problems[4]
    assert caught.value.exit_code == 2


def test_include_cycle_is_named(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "-r b.txt\nx==1\n")
    write(tmp_path / "b.txt", "-r a.txt\n")
    with pytest.raises(RequirementsError) as caught:
        parse_requirements(tmp_path / "a.txt")
    assert "include cycle" in caught.value.problems[0]
    assert "a.txt -> " in caught.value.problems[0]


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RequirementsError, match="no requirements"):
        parse_requirements(write(tmp_path / "r.txt", "# nothing\n"))


@pytest.mark.parametrize(("args", "project", "expected"), [
    ([], "six", {"binary", "source"}),
    (["--no-binary", ":all:"], "six", {"source"}),
    (["--no-binary", ":all:", "--only-binary", "Six"], "six", {"binary"}),  # names normalized
    (["--no-binary", ":all:", "--only-binary", "six"], "pyyaml", {"source"}),
    (["--only-binary", ":all:", "--no-binary", "pyyaml,six"], "six", {"source"}),
    (["--no-binary", "six", "--no-binary", ":none:"], "six", {"binary", "source"}),
    (["--no-binary", "six", "--only-binary", ":all:"], "six", {"binary"}),  # :all: resets
])
def test_allowed_formats_follow_pips_rules(args: list[str], project: str,
                                           expected: set[str]) -> None:
    assert allowed_formats(project, ["pip", "wheel", *args, f"{project}==1.0"]) == expected
