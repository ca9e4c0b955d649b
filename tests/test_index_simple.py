"""The simple API: rendered pages carry every PEP field, and parse back to what was rendered."""

from __future__ import annotations

import json

import pytest

from wheelhub.index.simple import (
    HTML_TYPE,
    JSON_TYPE,
    IndexFile,
    parse_index,
    parse_project,
    render_index,
    render_project,
)

WHEEL = IndexFile(filename="tiny_pkg-1.0-py3-none-any.whl",
                  url="../../files/tiny_pkg-1.0-py3-none-any.whl", sha256="a" * 64,
                  version="1.0", size=123, requires_python=">=3.8,<4", metadata_sha256="d" * 64,
                  uploaded=0.0, yanked="broken build")
FILES = [
    WHEEL,
    IndexFile(filename="tiny_pkg-1.9.tar.gz", url="../x/tiny_pkg-1.9.tar.gz", sha256="c" * 64,
              version="1.9", size=2, uploaded=1_700_000_000.5),
    IndexFile(filename="tiny_pkg-1.10-py3-none-any.whl", url="../x/tiny_pkg-1.10-py3-none-any.whl",
              sha256="b" * 64, version="1.10", size=1, metadata_sha256="e" * 64, yanked=""),
]


def test_project_page_has_every_pep_field() -> None:
    page = render_project("tiny-pkg", [WHEEL])
    text = page.html.decode()
    assert 'name="pypi:repository-version" content="1.1"' in text
    assert f"#sha256={'a' * 64}" in text
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in text
    assert f'data-core-metadata="sha256={"d" * 64}"' in text
    assert 'data-yanked="broken build"' in text
    data = json.loads(page.json)
    assert data["meta"]["api-version"] == "1.1"
    assert data["versions"] == ["1.0"]
    (entry,) = data["files"]
    assert entry["size"] == 123 and entry["upload-time"] == "1970-01-01T00:00:00.000000Z"
    assert entry["core-metadata"] == {"sha256": "d" * 64} and entry["yanked"] == "broken build"


def test_files_and_versions_are_in_version_order() -> None:
    data = json.loads(render_project("tiny-pkg", reversed(FILES)).json)
    assert data["versions"] == ["1.0", "1.9", "1.10"]
    assert [f["filename"] for f in data["files"]] == [f.filename for f in FILES]


def test_json_page_parses_back_to_what_was_rendered() -> None:
    assert parse_project(render_project("tiny-pkg", FILES).json, JSON_TYPE) == FILES


def test_html_page_parses_back_without_the_json_only_fields() -> None:
    parsed = parse_project(render_project("tiny-pkg", FILES).html, f"{HTML_TYPE}; charset=utf-8")
    assert parsed == [IndexFile(filename=f.filename, url=f.url, sha256=f.sha256,
                                version=f.version, requires_python=f.requires_python,
                                metadata_sha256=f.metadata_sha256, yanked=f.yanked)
                      for f in FILES]


def test_foreign_pages_parse_what_they_have() -> None:
    pep503 = (b'<html><body><a href="/packages/a%2Bb-1.0.egg#md5=00ff">a+b-1.0.egg</a>'
              b'<a href="https://x/pkg-2.0-py3-none-any.whl#sha256=ABC" data-yanked>w</a>'
              b"<a>no link</a></body></html>")
    (sdist, wheel) = parse_project(pep503, "text/html")
    assert (sdist.filename, sdist.sha256, sdist.version) == ("a+b-1.0.egg", "", "")
    assert (wheel.filename, wheel.sha256, wheel.version, wheel.yanked) == (
        "pkg-2.0-py3-none-any.whl", "abc", "2.0", "")
    pep691 = json.dumps({"files": [{"filename": "pkg-2.0.tar.gz", "url": "u",
                                    "hashes": {"sha256": "ABC"}, "yanked": True,
                                    "upload-time": "2024-01-01T00:00:00Z"}]}).encode()
    (only,) = parse_project(pep691, "application/vnd.pypi.simple.v1+json")
    assert (only.sha256, only.version, only.yanked, only.uploaded) == (
        "abc", "2.0", "", 1_704_067_200.0)


def test_a_page_that_is_not_json_is_an_error() -> None:
    with pytest.raises(ValueError, match="Expecting value"):
        parse_project(b"<html></html>", JSON_TYPE)


def test_project_list_renders_display_names_and_parses_back() -> None:
    page = render_index([("zeta", "Zeta"), ("a-b", "A_B<")])
    assert '<a href="a-b/">A_B&lt;</a>' in page.html.decode()
    assert parse_index(page.json) == ["a-b", "zeta"]
