"""The server over real HTTP: simple API, auth, validation, bad input (urllib as client)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import time
from pathlib import Path
from urllib.parse import urljoin

from tests.support.dists import make_sdist, make_wheel
from tests.support.hub import (
    HubProcess,
    database_bytes,
    http,
    make_private,
    running_hub,
    upload,
)
from wheelhub.index.urls import label_url, with_token
from wheelhub.server import create_token, open_storage

JSON = "application/vnd.pypi.simple.v1+json"


def _blobs(hub: HubProcess) -> set[str]:
    return {p.name for p in (hub.root / "blobs").glob("*/*")}


def test_upload_then_simple_api_html_and_json(hub: HubProcess, owner: str, upload_token: str,
                                             wheel: Path) -> None:
    reply = upload(hub.upload_url(owner, "feature-x"), wheel, upload_token)
    assert reply.status == 200, reply.text
    index = http(hub.index_url(owner, "feature-x"))
    assert index.status == 200 and 'href="tiny-pkg/"' in index.text
    page = http(hub.index_url(owner, "feature-x") + "tiny-pkg/", headers={"Accept": JSON})
    assert page.status == 200 and page.headers["content-type"] == JSON
    data = json.loads(page.body)
    (entry,) = data["files"]
    assert entry["hashes"]["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert entry["requires-python"] == ">=3.8" and entry["size"] == wheel.stat().st_size
    # The file and its PEP 658 metadata, at the relative URL the page gives.
    base = hub.index_url(owner, "feature-x") + "tiny-pkg/"
    got = http(urljoin(base, entry["url"]))
    assert got.status == 200 and got.body == wheel.read_bytes()
    meta = http(urljoin(base, entry["url"]) + ".metadata")
    assert hashlib.sha256(meta.body).hexdigest() == entry["core-metadata"]["sha256"]
    assert b"Name: tiny-pkg" in meta.body


def test_main_label_urls_and_redirects(hub: HubProcess, owner: str, upload_token: str,
                                       wheel: Path) -> None:
    assert upload(hub.upload_url(owner), wheel, upload_token).status == 200
    assert http(f"{hub.base_url}/{owner}/simple/tiny-pkg/").status == 200
    assert http(f"{hub.base_url}/{owner}/label/main/simple/tiny-pkg/").status == 200
    for odd in ("Tiny_Pkg/", "TINY.pkg/", "tiny-pkg"):
        reply = http(f"{hub.base_url}/{owner}/simple/{odd}")
        assert reply.status == 301
        assert reply.headers["location"] == f"/{owner}/simple/tiny-pkg/"
    token_url = f"{hub.base_url}/t/{upload_token}/{owner}/simple/Tiny_Pkg/"
    assert http(token_url).headers["location"] == f"/t/{upload_token}/{owner}/simple/tiny-pkg/"
    assert http(f"{hub.base_url}/{owner}/simple/no-such-project/").status == 404


def test_etag_304_and_gzip(hub: HubProcess, owner: str, upload_token: str, wheel: Path) -> None:
    upload(hub.upload_url(owner), wheel, upload_token)
    url = hub.index_url(owner) + "tiny-pkg/"
    first = http(url)
    etag = first.headers["etag"]
    assert http(url, headers={"If-None-Match": etag}).status == 304
    zipped = http(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped.body) == first.body
    # A new upload changes the page, so the old ETag no longer matches.
    upload(hub.upload_url(owner), make_wheel(wheel.parent, "tiny-pkg", "2.0"), upload_token)
    assert http(url, headers={"If-None-Match": etag}).status == 200


def test_identical_reupload_is_a_noop_and_different_bytes_conflict(
        hub: HubProcess, owner: str, upload_token: str, wheel: Path, tmp_path: Path) -> None:
    url = hub.upload_url(owner)
    assert upload(url, wheel, upload_token).status == 200
    again = upload(url, wheel, upload_token)
    assert again.status == 200 and "unchanged" in again.text
    before = http(hub.index_url(owner) + "tiny-pkg/").body
    other = make_wheel(tmp_path / "other", "tiny-pkg", "1.0", payload=b"# different\n")
    conflict = upload(url, other, upload_token)
    assert conflict.status == 409 and "different contents" in conflict.text
    assert http(hub.index_url(owner) + "tiny-pkg/").body == before


def test_sdist_upload(hub: HubProcess, owner: str, upload_token: str, dist_dir: Path) -> None:
    sdist = make_sdist(dist_dir, "tiny-pkg", "3.0", requires_python=">=3.10")
    assert upload(hub.upload_url(owner), sdist, upload_token).status == 200
    assert "tiny_pkg-3.0.tar.gz" in http(hub.index_url(owner) + "tiny-pkg/").text


def test_bad_uploads_get_clear_errors_and_change_nothing(
        hub: HubProcess, owner: str, upload_token: str, wheel: Path, tmp_path: Path) -> None:
    url = hub.upload_url(owner, "dev")
    blobs = _blobs(hub)
    mismatched = make_wheel(tmp_path / "m", "tiny-pkg", "1.0", metadata_name="evil-pkg")
    bomb = make_wheel(tmp_path / "bomb", "tiny-pkg", "1.0", payload=b"\0" * (64 * 1024 * 1024))
    cases: list[tuple[dict[str, str | bytes], str]] = [
        ({"filename": "../../etc/tiny_pkg-1.0-py3-none-any.whl"}, "plain file name"),
        ({"filename": "a/tiny_pkg-1.0-py3-none-any.whl"}, "plain file name"),
        ({"filename": "/tmp/tiny_pkg-1.0-py3-none-any.whl"}, "plain file name"),
        ({"filename": "tiny_pkg\x00-1.0-py3-none-any.whl"}, "plain file name"),
        ({"content": b"not a zip at all"}, "zip"),
        ({"sha256_digest": "0" * 64}, "sha256_digest does not match"),
        ({"md5_digest": "0" * 32}, "md5_digest does not match"),
        ({"name": "<omit>"}, "missing form field 'name'"),
        ({"version": "2.0"}, "does not match the filename"),
        ({"content": mismatched.read_bytes(), "sha256_digest": "<omit>",
          "md5_digest": "<omit>"}, "Name 'evil-pkg' does not match"),
        ({"filename": "tiny_pkg-1.0.exe"}, "not a valid wheel or sdist filename"),
        ({"content": bomb.read_bytes()}, "zip bomb"),
    ]
    for fields, expected in cases:
        content = fields.pop("content", None)
        assert content is None or isinstance(content, bytes)
        filename = fields.pop("filename", None)
        assert filename is None or isinstance(filename, str)
        reply = upload(url, wheel, upload_token, content=content, filename=filename,
                       form={k: str(v) for k, v in fields.items()})
        assert reply.status == 400, (fields, reply.status, reply.text)
        assert expected in reply.text, (fields, reply.text)
    missing_action = upload(url, wheel, upload_token, form={":action": "<omit>"})
    assert missing_action.status == 400 and ":action" in missing_action.text
    assert http(hub.index_url(owner, "dev")).status == 404  # label never created
    assert _blobs(hub) == blobs
    assert not list((hub.root / "tmp").iterdir())


def test_oversized_upload_is_413(hub: HubProcess, owner: str, upload_token: str,
                                 dist_dir: Path) -> None:
    big = make_wheel(dist_dir, "big-pkg", "1.0", payload=b"#" + os.urandom(3 * 1024 * 1024))
    reply = upload(hub.upload_url(owner), big, upload_token)
    assert reply.status == 413 and "size limit" in reply.text


def test_tokens_scopes_globs_expiry_revocation(hub: HubProcess, owner: str, wheel: Path) -> None:
    url = hub.upload_url(owner, "feature-x")
    assert upload(url, wheel, None).status == 401  # no token: 401 before any lookup
    read_only = create_token(hub.root, owner=owner, scope="read")  # creates the owner
    assert upload(url, wheel, None).status == 401
    assert upload(url, wheel, "whk_" + "x" * 43).status == 401
    assert upload(url, wheel, read_only).status == 403
    narrow = create_token(hub.root, owner=owner, scope="upload", label_glob="feature-*")
    denied = upload(hub.upload_url(owner, "main"), wheel, narrow)
    assert denied.status == 403 and "feature-*" in denied.text
    assert upload(url, wheel, narrow).status == 200  # creates the label
    other_owner = create_token(hub.root, owner=owner + "other", scope="admin")
    assert upload(url, wheel, other_owner).status == 403
    expired = create_token(hub.root, owner=owner, scope="upload", expires=time.time() - 1)
    assert upload(url, wheel, expired).status == 401
    storage = open_storage(hub.root)
    try:
        record = storage.list_tokens(owner)[-1]
        revocable = create_token(hub.root, owner=owner, scope="upload")
        assert upload(url, wheel, revocable).status == 200
        storage.revoke_token(storage.list_tokens(owner)[-1].id)
        assert upload(url, wheel, revocable).status == 401
        stored = {t.hint for t in storage.list_tokens(owner)} | {str(record.id)}
        assert revocable not in stored
    finally:
        storage.close()
    db = database_bytes(hub.root)
    assert narrow.encode() not in db and revocable.encode() not in db
    assert upload(hub.upload_url("no-such-owner"), wheel, narrow).status == 404


def test_private_label_and_owner_answer_404(hub: HubProcess, owner: str, upload_token: str,
                                            wheel: Path) -> None:
    assert upload(hub.upload_url(owner, "secret"), wheel, upload_token).status == 200
    make_private(hub, owner, "secret")
    index = hub.index_url(owner, "secret")
    file_url = urljoin(index, "../files/tiny_pkg-1.0-py3-none-any.whl")
    for url in (index, index + "tiny-pkg/", file_url, hub.upload_url(owner, "secret")):
        assert http(url).status == 404, url
    hidden = http(index + "tiny-pkg/").text
    assert hidden == http(hub.index_url(owner, "nothing")).text.replace("nothing", "secret")
    reader = create_token(hub.root, owner=owner, scope="read", label_glob="secret")
    assert http(index + "tiny-pkg/", token=reader).status == 200
    assert http(hub.index_url(owner, "secret", token=reader) + "tiny-pkg/").status == 200
    wrong_label = create_token(hub.root, owner=owner, scope="read", label_glob="other")
    assert http(index, token=wrong_label).status == 404
    assert http(index, token="whk_" + "y" * 43).status == 401
    # A private owner hides everything, even its main label and web page.
    make_private(hub, owner)
    assert http(hub.index_url(owner)).status == 404
    assert http(f"{hub.base_url}/{owner}/").status == 404
    assert owner not in http(hub.base_url + "/").text
    assert http(hub.index_url(owner), token=upload_token).status == 200


def test_private_label_page_names_the_token_without_showing_it(
        hub: HubProcess, owner: str, upload_token: str, wheel: Path) -> None:
    assert upload(hub.upload_url(owner, "secret"), wheel, upload_token).status == 200
    make_private(hub, owner, "secret")
    page = http(label_url(with_token(hub.base_url, upload_token), owner, "secret"))
    assert page.status == 200
    pip_line = f"pip install --extra-index-url {hub.index_url(owner, 'secret', '$WHEELHUB_TOKEN')}"
    assert pip_line in page.text
    link = f'href="/t/{upload_token}/{owner}/label/secret/files/{wheel.name}"'
    assert link in page.text  # the browser downloads with the token it came with


def test_tokens_never_reach_the_log(hub: HubProcess, owner: str, upload_token: str,
                                    wheel: Path) -> None:
    upload(hub.upload_url(owner), wheel, upload_token)
    http(hub.index_url(owner, token=upload_token) + "tiny-pkg/")
    http(hub.index_url(owner, token=upload_token) + "Tiny_Pkg/")
    log = hub.log_text()
    assert "/t/****/" in log and f"/{owner}/simple/tiny-pkg/" in log
    assert upload_token not in log and upload_token[4:20] not in log


def test_label_http_api_needs_admin(hub: HubProcess, owner: str, upload_token: str,
                                    admin_token: str, wheel: Path) -> None:
    upload(hub.upload_url(owner, "dev"), wheel, upload_token)
    api = f"{hub.base_url}/api/v1/{owner}/labels"
    body = json.dumps({"to": "staging"}).encode()
    assert http(f"{api}/dev/copy", method="POST", data=body, token=upload_token).status == 403
    reply = http(f"{api}/dev/copy", method="POST", data=body, token=admin_token)
    assert reply.status == 200 and json.loads(reply.body)["files"] == 1
    move = json.dumps({"to": "main", "project": "tiny-pkg", "version": "1.0"}).encode()
    assert http(f"{api}/staging/move", method="POST", data=move, token=admin_token).status == 200
    listed = json.loads(http(f"{api}/dev/files").body)["files"]
    assert [(f["filename"], f["sha256"]) for f in listed] == [
        (wheel.name, hashlib.sha256(wheel.read_bytes()).hexdigest())]
    labels = {lab["name"]: lab["files"] for lab in json.loads(http(api).body)["labels"]}
    assert labels == {"dev": 1, "staging": 0, "main": 1}
    assert http(hub.index_url(owner, "main") + "tiny-pkg/").status == 200
    assert http(hub.index_url(owner, "staging") + "tiny-pkg/").status == 404
    yank = json.dumps({"project": "tiny-pkg", "reason": "broken"}).encode()
    assert http(f"{api}/main/yank", method="POST", data=yank, token=admin_token).status == 200
    assert 'data-yanked="broken"' in http(hub.index_url(owner) + "tiny-pkg/").text


def test_no_create_labels_refuses_unknown_label(tmp_path: Path, wheel: Path) -> None:
    root = tmp_path / "strict"
    token = create_token(root, owner="acme", scope="upload")
    with running_hub(root, extra_args=["--no-create-labels"]) as strict:
        refused = upload(strict.upload_url("acme", "feature-new"), wheel, token)
        assert refused.status == 404 and "label 'acme/feature-new' not found" in refused.text
        assert upload(strict.upload_url("acme"), wheel, token).status == 200  # main exists
