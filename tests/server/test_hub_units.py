"""Library-level checks: names, tokens, multipart, archive validation, rendering."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.support.hub import make_sdist, make_wheel, multipart
from wheelhub.errors import UsageError
from wheelhub.index.errors import InvalidName
from wheelhub.index.names import check_label, check_owner
from wheelhub.index.simple import render_project
from wheelhub.server import tokens
from wheelhub.server.archive import parse_dist_filename, read_core_metadata
from wheelhub.server.asgi import negotiate
from wheelhub.server.errors import UploadRejected
from wheelhub.server.multipart import parse_form
from wheelhub.server.storage import FileRecord, Scope, TokenRecord
from wheelhub.util.redact import redact


@pytest.mark.parametrize("name", ["../etc/passwd.whl", "a/b-1.0-py3-none-any.whl",
                                  "/abs-1.0-py3-none-any.whl", "x\x00-1.0-py3-none-any.whl",
                                  "pkg-1.0-py3-none-any.exe", "", "..", "pkg.whl"])
def test_bad_filenames_are_rejected(name: str) -> None:
    with pytest.raises(UploadRejected):
        parse_dist_filename(name)


def test_wheel_filename_parses_tags() -> None:
    dist = parse_dist_filename("Tiny_Pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl")
    assert (dist.project, str(dist.version), dist.kind) == ("tiny-pkg", "1.0", "bdist_wheel")
    assert dist.python_tags == ("cp311",)
    assert dist.platform_tags == ("manylinux_2_17_x86_64",)


def test_owner_and_label_names() -> None:
    assert check_owner("acme") == "acme"
    assert check_label("feature-x") == "feature-x"
    for bad in ("Acme", "a/b", "api", "", "-x"):
        with pytest.raises(InvalidName):
            check_owner(bad)
    for bad in ("feature/x", "..", "a..b", "", "-x", "x" * 200):
        with pytest.raises(InvalidName):
            check_label(bad)


def test_token_shape_is_masked_by_redact() -> None:
    token = tokens.new_token()
    assert tokens.looks_like_token(token)
    assert token not in redact(f"GET /t/{token}/acme/simple/ and {token}")
    assert tokens.hash_token(token) != token


def test_expiry_parsing() -> None:
    assert tokens.parse_expiry("90d", now=0) == 90 * 86400
    assert tokens.parse_expiry("12h", now=0) == 12 * 3600
    assert tokens.parse_expiry("never") is None
    with pytest.raises(UsageError):
        tokens.parse_expiry("soon")


def test_scopes_and_globs() -> None:
    record = TokenRecord(id=1, owner="acme", scope=Scope.UPLOAD, label_glob="feature-*",
                         expires=None, revoked=None, created=0, hint="", description="")
    assert tokens.grants(record, owner="acme", label="feature-x", needed=Scope.READ)
    assert tokens.grants(record, owner="acme", label="feature-x", needed=Scope.UPLOAD)
    assert not tokens.grants(record, owner="acme", label="feature-x", needed=Scope.ADMIN)
    assert not tokens.grants(record, owner="acme", label="main", needed=Scope.READ)
    assert not tokens.grants(record, owner="other", label="feature-x", needed=Scope.READ)


def test_negotiation_follows_pep_691() -> None:
    assert negotiate("") == "text/html"
    assert negotiate("application/vnd.pypi.simple.v1+json") == "json"
    assert negotiate("application/vnd.pypi.simple.v1+json, "
                     "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01") == "json"
    assert negotiate("application/vnd.pypi.simple.v1+html;q=0.5, "
                     "application/vnd.pypi.simple.v1+json;q=0.1") == "html"
    assert negotiate("text/html") == "text/html"


def test_multipart_roundtrip() -> None:
    body, content_type = multipart({":action": "file_upload", "name": "x"}, "x-1.0.tar.gz",
                                   b"\r\n--not-a-boundary\r\nbytes")
    form = parse_form(body, content_type)
    assert form.fields == {":action": "file_upload", "name": "x"}
    assert form.files["content"].data == b"\r\n--not-a-boundary\r\nbytes"
    with pytest.raises(UploadRejected):
        parse_form(body[:-10], content_type)


def test_metadata_is_extracted_from_wheels_and_sdists(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "Tiny-Pkg", "1.0", requires_python=">=3.9")
    meta = read_core_metadata(wheel.read_bytes(), parse_dist_filename(wheel.name),
                              max_unpacked=10**8)
    assert (meta.name, meta.version, meta.requires_python) == ("Tiny-Pkg", "1.0", ">=3.9")
    sdist = make_sdist(tmp_path, "tiny-pkg", "2.0")
    meta = read_core_metadata(sdist.read_bytes(), parse_dist_filename(sdist.name),
                              max_unpacked=10**8)
    assert meta.version == "2.0"


def test_metadata_name_must_match_filename(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "tiny-pkg", "1.0", metadata_name="other-pkg")
    with pytest.raises(UploadRejected, match="does not match"):
        read_core_metadata(wheel.read_bytes(), parse_dist_filename(wheel.name),
                           max_unpacked=10**8)


def test_not_a_zip_and_zip_bomb_are_refused(tmp_path: Path) -> None:
    dist = parse_dist_filename("tiny_pkg-1.0-py3-none-any.whl")
    with pytest.raises(UploadRejected, match="zip"):
        read_core_metadata(b"this is not a zip", dist, max_unpacked=10**8)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("tiny_pkg-1.0.dist-info/METADATA",
                         "Metadata-Version: 2.1\nName: tiny-pkg\nVersion: 1.0\n\n")
        archive.writestr("tiny_pkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
        archive.writestr("bomb.bin", b"\0" * (50 * 1024 * 1024))
    with pytest.raises(UploadRejected, match="zip bomb"):
        read_core_metadata(buffer.getvalue(), dist, max_unpacked=10 * 1024 * 1024)


def test_project_page_has_every_pep_field() -> None:
    record = FileRecord(filename="tiny_pkg-1.0-py3-none-any.whl", project="tiny-pkg",
                        display_name="Tiny-Pkg", version="1.0", kind="bdist_wheel",
                        python_tags=("py3",), platform_tags=("any",), size=123, sha256="a" * 64,
                        md5="b" * 32, blake2_256="c" * 64, requires_python=">=3.8,<4",
                        summary=None, metadata_sha256="d" * 64, uploaded=0.0,
                        yanked="broken build")
    page = render_project("tiny-pkg", [record])
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
