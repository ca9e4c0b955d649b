"""What an outside audit broke, one test per finding: XSS, one file one set of bytes,
PEP 658 only where true, private == missing, bad archives, HTTP details (real server)."""

from __future__ import annotations

import io
import json
import tarfile
import time
import zipfile
from pathlib import Path
from urllib.parse import urljoin

import pytest

from tests.support.dists import make_wheel, metadata_text
from tests.support.hub import HubProcess, http, upload
from wheelhub.index import urls
from wheelhub.server import create_token, open_storage

JSON = "application/vnd.pypi.simple.v1+json"


def sdist(directory: Path, name: str, version: str, pkg_info: str,
          filename: str | None = None) -> Path:
    """An sdist with exactly *pkg_info* as its PKG-INFO."""
    directory.mkdir(parents=True, exist_ok=True)
    base = f"{name}-{version}"
    path = directory / (filename or f"{base}.tar.gz")
    with tarfile.open(path, "w:gz") as archive:
        for member, data in ((f"{base}/PKG-INFO", pkg_info.encode()),
                             (f"{base}/setup.py", b"from setuptools import setup\nsetup()\n")):
            info = tarfile.TarInfo(member)
            info.size, info.mtime = len(data), 0
            archive.addfile(info, io.BytesIO(data))
    return path


def state(hub: HubProcess) -> tuple[set[str], list[str]]:
    """Blobs and leftover temp files: what a refused upload must not change."""
    return ({p.name for p in (hub.root / "blobs").glob("*/*")},
            [p.name for p in (hub.root / "tmp").iterdir()])


# -- 1. no stored XSS -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["javascript:alert(1)", "<img src=x onerror=alert(1)>",
                                  "a b", "x\ny", "-dash"])
def test_invalid_project_names_are_refused(hub: HubProcess, owner: str, upload_token: str,
                                           tmp_path: Path, name: str) -> None:
    before = state(hub)
    path = sdist(tmp_path, "evil", "1.0", metadata_text("evil", "1.0"))
    reply = upload(hub.upload_url(owner), path, upload_token, filename=f"{name}-1.0.tar.gz",
                   name=name)
    assert reply.status == 400 and "invalid project name" in reply.text, reply.text
    assert state(hub) == before


def test_invalid_name_in_metadata_is_refused(hub: HubProcess, owner: str, upload_token: str,
                                             tmp_path: Path) -> None:
    path = sdist(tmp_path, "evil", "1.0", metadata_text("javascript:alert(1)", "1.0"))
    reply = upload(hub.upload_url(owner), path, upload_token)
    assert reply.status == 400 and "invalid project name" in reply.text, reply.text


def test_pages_send_csp_nosniff_and_no_framing(hub: HubProcess, owner: str, upload_token: str,
                                               wheel: Path) -> None:
    assert upload(hub.upload_url(owner), wheel, upload_token).status == 200
    with_token = urls.with_token(hub.base_url, upload_token)
    for url in (hub.base_url + "/", f"{hub.base_url}/{owner}/",
                f"{hub.base_url}/{owner}/label/main/", hub.index_url(owner),
                hub.index_url(owner) + "tiny-pkg/", f"{hub.base_url}/nobody/",
                urls.owner_url(with_token, owner), hub.index_url(owner, token=upload_token)):
        reply = http(url)
        csp = reply.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, url
        assert "unsafe-inline" not in csp, url
        assert reply.headers["x-content-type-options"] == "nosniff", url
        # a token page's URL never leaves as a Referer (into logs, e.g. nginx's error log)
        assert reply.headers["referrer-policy"] == "no-referrer", url


# -- 2. one release file, one set of bytes ---------------------------------------------


def test_one_release_file_one_set_of_bytes(hub: HubProcess, owner: str, upload_token: str,
                                           tmp_path: Path) -> None:
    url = hub.upload_url(owner)
    first = make_wheel(tmp_path / "a", "six", "1.17.0", tag="py2.py3-none-any")
    other = make_wheel(tmp_path / "b", "six", "1.17.0", tag="py2.py3-none-any",
                       payload=b"# other bytes\n").read_bytes()
    assert upload(url, first, upload_token).status == 200
    page = hub.index_url(owner) + "six/"
    before = http(page, headers={"Accept": JSON}).body
    for spelling in ("Six-1.17.0-py2.py3-none-any.whl", "six-1.17-py2.py3-none-any.whl",
                     "six-1.17.0-py3.py2-none-any.whl", "SIX-1.17.0.0-PY2.PY3-NONE-ANY.whl"):
        reply = upload(url, first, upload_token, filename=spelling, content=other)
        assert reply.status == 409, (spelling, reply.status, reply.text)
        same = upload(url, first, upload_token, filename=spelling)
        assert same.status == 200 and same.text.startswith("unchanged"), same.text
    assert http(page, headers={"Accept": JSON}).body == before
    # One sdist per release: a .zip of other bytes does not join the .tar.gz.
    tar = sdist(tmp_path / "s", "six", "1.17.0", metadata_text("six", "1.17.0"))
    assert upload(url, tar, upload_token).status == 200
    stored = http(urljoin(page, "../../files/six-1.17.0.tar.gz"))
    assert stored.status == 200 and stored.body == tar.read_bytes()


def test_odd_filenames_are_stored_under_their_normalized_name(
        hub: HubProcess, owner: str, upload_token: str, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "Tiny.Pkg", "01.0", tag="py3-none-any")
    reply = upload(hub.upload_url(owner), wheel, upload_token,
                   filename="Tiny.Pkg-01.0-py3-none-any.whl", name="Tiny.Pkg")
    assert reply.status == 200 and "tiny_pkg-1.0-py3-none-any.whl" in reply.text, reply.text
    files = json.loads(http(hub.index_url(owner) + "tiny-pkg/", headers={"Accept": JSON}).body)
    assert [f["filename"] for f in files["files"]] == ["tiny_pkg-1.0-py3-none-any.whl"]


# -- 3. PEP 658 only where it is true ---------------------------------------------------


@pytest.mark.parametrize(("metadata_version", "dynamic", "offered"), [
    ("1.0", "", False), ("2.1", "", False), ("2.2", "", True),
    ("2.2", "Dynamic: Requires-Dist\n", False), ("2.4", "Dynamic: requires-python\n", False),
    ("2.2", "Dynamic: Summary\n", True),
])
def test_core_metadata_only_for_static_sdists(hub: HubProcess, owner: str, upload_token: str,
                                              tmp_path: Path, metadata_version: str,
                                              dynamic: str, offered: bool) -> None:
    pkg_info = (f"Metadata-Version: {metadata_version}\nName: dyn\nVersion: 1.0\n{dynamic}"
                "Requires-Dist: six\n\n")
    path = sdist(tmp_path, "dyn", "1.0", pkg_info)
    assert upload(hub.upload_url(owner), path, upload_token).status == 200
    page = hub.index_url(owner) + "dyn/"
    (entry,) = json.loads(http(page, headers={"Accept": JSON}).body)["files"]
    assert ("core-metadata" in entry) is offered
    assert ("data-core-metadata" in http(page).text) is offered
    metadata = http(urljoin(page, entry["url"]) + ".metadata")
    assert metadata.status == (200 if offered else 404)


def test_wheels_always_offer_core_metadata(hub: HubProcess, owner: str, upload_token: str,
                                           wheel: Path) -> None:
    assert upload(hub.upload_url(owner), wheel, upload_token).status == 200
    (entry,) = json.loads(http(hub.index_url(owner) + "tiny-pkg/",
                               headers={"Accept": JSON}).body)["files"]
    assert entry["core-metadata"]["sha256"]


# -- 4. private things are indistinguishable from missing ones --------------------------


def _seen(reply_text: str, *names: str) -> str:
    for name in names:
        reply_text = reply_text.replace(name, "NAME")
    return reply_text


def test_private_answers_exactly_as_missing(hub: HubProcess, owner: str, upload_token: str,
                                            wheel: Path) -> None:
    hidden_owner, ghost_owner = owner + "p", owner + "g"
    create_token(hub.root, owner=hidden_owner, scope="upload")
    assert upload(hub.upload_url(owner, "secret"), wheel, upload_token).status == 200
    storage = open_storage(hub.root)
    try:
        storage.set_owner_private(hidden_owner, True)
        storage.set_label_private(owner, "secret", True)
    finally:
        storage.close()
    stranger = create_token(hub.root, owner=owner + "s", scope="admin")
    narrow = create_token(hub.root, owner=owner, scope="admin", label_glob="feature-*")
    body = json.dumps({"to": "elsewhere"}).encode()

    def answers(o: str, label: str, token: str | None) -> list[tuple[int, str]]:
        api = f"{hub.base_url}/api/v1/{o}/labels"
        replies = [
            http(hub.index_url(o, label), token=token),
            http(hub.index_url(o, label) + "tiny-pkg/", token=token),
            http(f"{hub.base_url}/{o}/label/{label}/files/{wheel.name}", token=token),
            http(f"{hub.base_url}/{o}/label/{label}/files/{wheel.name}.metadata", token=token),
            http(f"{hub.base_url}/{o}/label/{label}/", token=token),
            http(f"{api}/{label}/files", token=token),
            http(f"{api}/{label}/copy", method="POST", data=body, token=token),
            upload(hub.upload_url(o, label), wheel, token),
        ]
        if label == "main":
            replies += [http(f"{hub.base_url}/{o}/", token=token), http(api, token=token)]
        return [(r.status, _seen(r.text, o, label)) for r in replies]

    for token in (None, stranger):
        assert answers(hidden_owner, "main", token) == answers(ghost_owner, "main", token)
        assert answers(owner, "secret", token) == answers(owner, "ghost", token)
    assert answers(owner, "secret", narrow) == answers(owner, "ghost", narrow)


# -- 7. bad archives are 400, never 500 -------------------------------------------------


def test_flipped_bytes_never_give_500(hub: HubProcess, owner: str, upload_token: str,
                                      wheel: Path) -> None:
    data = wheel.read_bytes()
    before = state(hub)
    statuses = set()
    for position in range(0, len(data), max(1, len(data) // 150)):
        corrupt = bytearray(data)
        corrupt[position] ^= 0xFF
        statuses.add(upload(hub.upload_url(owner, "flip"), wheel, upload_token,
                            content=bytes(corrupt)).status)
    assert statuses <= {200, 400, 409}, statuses  # 409: a flip zip does not check, twice
    assert 400 in statuses
    assert state(hub)[1] == before[1] == []


def test_wheel_whose_dist_info_does_not_match_its_filename_is_refused(
        hub: HubProcess, owner: str, upload_token: str, tmp_path: Path) -> None:
    good = make_wheel(tmp_path, "tiny-pkg", "1.0")
    renamed = io.BytesIO()
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(renamed, "w") as target:
        for info in source.infolist():
            name = info.filename.replace("tiny_pkg-1.0.dist-info", "other-1.0.dist-info")
            target.writestr(name, source.read(info))
    reply = upload(hub.upload_url(owner), good, upload_token, content=renamed.getvalue())
    assert reply.status == 400 and "does not match the filename" in reply.text, reply.text
    assert "other-1.0.dist-info" in reply.text


# -- 8. HTTP details --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["//evil.example/", "/%5Cevil.example", "/%2F%2Fevil.example",
                                  "/%5C%5Cevil.example/simple", "/acme/label/%5Cevil.example",
                                  "/acme/simple/%5Cevil.example", "/t/x//evil.example/"])
def test_redirects_never_leave_the_origin(hub: HubProcess, path: str) -> None:
    reply = http(hub.base_url + path)
    location = reply.headers.get("location", "/")
    assert location.startswith("/") and location[1:2] not in ("/", "\\"), (path, location)


def test_odd_path_shapes_serve_no_other_page(hub: HubProcess) -> None:
    home = http(hub.base_url + "/")
    for odd in ("//", "//x/y", "/_health/x", "/acme%0A/", "/ACME/"):
        reply = http(hub.base_url + odd)
        assert reply.status in {301, 404}, (odd, reply.status)
        assert reply.body != home.body


def test_access_log_lines_cannot_be_forged(hub: HubProcess) -> None:
    forged = "GET /fake 200 0.1ms"
    http(f"{hub.base_url}/x%0A{forged.replace(' ', '%20')}%0D%1B[31m")
    deadline = time.monotonic() + 10
    while "/fake" not in hub.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)  # the line is written after the response is sent
    assert "/fake" in hub.log_text()
    for line in hub.log_text().splitlines():
        assert not line.startswith(forged) and "\x1b" not in line, line


def test_304_has_no_body_headers(hub: HubProcess, owner: str, upload_token: str,
                                 wheel: Path) -> None:
    upload(hub.upload_url(owner), wheel, upload_token)
    for url in (hub.index_url(owner) + "tiny-pkg/",
                f"{hub.base_url}/{owner}/files/{wheel.name}"):
        for encoding in ("", "gzip"):
            etag = http(url, headers={"Accept-Encoding": encoding}).headers["etag"]
            reply = http(url, headers={"If-None-Match": etag, "Accept-Encoding": encoding})
            assert reply.status == 304 and reply.body == b""
            assert not {"content-type", "content-length", "content-encoding"} & set(reply.headers)
            assert reply.headers["etag"] == etag


@pytest.mark.parametrize(("accept_encoding", "gzipped"), [
    ("gzip", True), ("gzip;q=0", False), ("gzip; q=0.0, identity", False), ("*", True),
    ("*;q=0", False), ("identity, gzip;q=0.5", True), ("br", False), ("GZIP;Q=1", True),
    ("x-gzip", True), ("gzip;q=bad", False),
])
def test_accept_encoding_q_values(hub: HubProcess, owner: str, upload_token: str, wheel: Path,
                                  accept_encoding: str, gzipped: bool) -> None:
    upload(hub.upload_url(owner), wheel, upload_token)
    reply = http(hub.index_url(owner) + "tiny-pkg/", headers={"Accept-Encoding": accept_encoding})
    assert reply.status == 200
    assert (reply.headers.get("content-encoding") == "gzip") is gzipped
