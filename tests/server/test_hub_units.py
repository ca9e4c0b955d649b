"""Library-level checks of the hub: names, tokens, content negotiation, multipart."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pytest

from tests.support.hub import multipart
from wheelhub.errors import UsageError
from wheelhub.index.errors import InvalidName
from wheelhub.index.names import check_label, check_owner
from wheelhub.index.simple import ACCEPT
from wheelhub.server import tokens
from wheelhub.server.asgi import negotiate
from wheelhub.server.errors import UploadRejected
from wheelhub.server.multipart import Form, FormParser
from wheelhub.server.storage import Scope, TokenRecord
from wheelhub.util.redact import redact


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
    assert negotiate(ACCEPT) == "json"  # what our own index client sends
    assert negotiate("application/vnd.pypi.simple.v1+html;q=0.5, "
                     "application/vnd.pypi.simple.v1+json;q=0.1") == "html"
    assert negotiate("text/html") == "text/html"


def parse_form(body: bytes, content_type: str, directory: Path, chunk: int) -> Form:
    """Feed *body* in *chunk*-byte pieces, as it arrives from a socket."""
    def new_file() -> tuple[BinaryIO, Path]:
        path = directory / f"part-{len(list(directory.iterdir()))}"
        return path.open("wb"), path

    parser = FormParser(content_type, new_file)
    try:
        for start in range(0, len(body), chunk):
            parser.feed(body[start:start + chunk])
        return parser.finish()
    finally:
        parser.close()


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
def test_multipart_roundtrip_in_any_chunking(tmp_path: Path, chunk: int) -> None:
    content = b"\r\n--not-a-boundary\r\nbytes" * 50
    body, content_type = multipart({":action": "file_upload", "name": "x"}, "x-1.0.tar.gz",
                                   content)
    form = parse_form(body, content_type, tmp_path, chunk)
    assert form.fields == {":action": "file_upload", "name": "x"}
    upload = form.files["content"]
    assert upload.path.read_bytes() == content and upload.size == len(content)
    with pytest.raises(UploadRejected):
        parse_form(body[:-10], content_type, tmp_path, chunk)
