"""``serve --static-dir``: public labels mirrored as a tree, and Debian's nginx running
``deploy/nginx.conf`` in front of the hub (pip through it, uploads through it, private
labels never served from the tree)."""

from __future__ import annotations

import concurrent.futures
import gzip
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dists import make_wheel
from tests.support.hub import HubProcess, http, make_private, running_hub, upload
from tests.support.nginx import running_nginx
from tests.support.pip import make_venv, pip_install
from tests.support.postgres import Postgres
from tests.support.processes import free_port
from wheelhub.index import urls
from wheelhub.server import create_token, open_storage
from wheelhub.server.storage import Selection, Upstream

JSON = "application/vnd.pypi.simple.v1+json"
PIP_ACCEPT = f"{JSON}, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"


@pytest.fixture(scope="module")
def static_hub(tmp_path_factory: pytest.TempPathFactory,
               database: str) -> Iterator[tuple[HubProcess, Path]]:
    work = tmp_path_factory.mktemp("static")
    static = work / "static"
    with running_hub(work / "root", database=database, extra_args=[
            "--static-dir", str(static), "--access-log"]) as hub:
        yield hub, static


def page(static: Path, owner: str, label: str, project: str = "", kind: str = "json") -> Path:
    path = urls.simple_url("", owner, label, project).lstrip("/")
    return static / path / f"index.{kind}"


def listed(static: Path, owner: str, label: str, project: str) -> list[str]:
    return [f["filename"] for f in json.loads(page(static, owner, label, project).read_bytes())
            ["files"]]


def test_public_labels_are_mirrored_and_private_ones_never(
        static_hub: tuple[HubProcess, Path], owner: str, tmp_path: Path) -> None:
    hub, static = static_hub
    token = create_token(hub.root, owner=owner, scope="upload")
    wheel = make_wheel(tmp_path, "tiny-pkg", "1.0")
    for label in ("main", "feat", "secret"):
        assert upload(hub.upload_url(owner, label), wheel, token).status == 200
    # The pages are the hub's bytes, in both formats and gzipped.
    served = http(hub.index_url(owner) + "tiny-pkg/", headers={"Accept": JSON})
    assert page(static, owner, "main", "tiny-pkg").read_bytes() == served.body
    html = page(static, owner, "main", "tiny-pkg", "html").read_bytes()
    assert html == http(hub.index_url(owner) + "tiny-pkg/").body
    assert gzip.decompress(page(static, owner, "main", "tiny-pkg", "html.gz").read_bytes()) \
        == html
    assert b"tiny-pkg" in page(static, owner, "feat", "", "html").read_bytes()
    # The file is the blob itself (a hard link), with its core metadata beside it.
    files = static / owner / "files"
    sha256 = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert (files / wheel.name).stat().st_ino == \
        (hub.root / "blobs" / sha256[:2] / sha256).stat().st_ino or \
        hashlib.sha256((files / wheel.name).read_bytes()).hexdigest() == sha256
    assert (files / f"{wheel.name}.metadata").read_bytes().startswith(b"Metadata-Version")
    assert listed(static, owner, "feat", "tiny-pkg") == [wheel.name]
    # Private: gone from the tree; a label private from the start never appears.
    make_private(hub, owner, "secret")
    assert not (static / owner / "label" / "secret").exists()
    storage = open_storage(hub.root)
    try:
        storage.create_label(owner, "hidden", private=True)
    finally:
        storage.close()
    assert upload(hub.upload_url(owner, "hidden"), wheel, token).status == 200
    assert not (static / owner / "label" / "hidden").exists()
    # A new version rewrites the page; deleting the label removes its pages and files.
    newer = make_wheel(tmp_path, "tiny-pkg", "2.0")
    assert upload(hub.upload_url(owner, "feat"), newer, token).status == 200
    assert sorted(listed(static, owner, "feat", "tiny-pkg")) == [wheel.name, newer.name]
    assert (static / owner / "label" / "feat" / "files" / newer.name).read_bytes() \
        == newer.read_bytes()
    storage = open_storage(hub.root)
    try:
        storage.remove(owner, "feat", Selection(filename=wheel.name))
        assert listed(static, owner, "feat", "tiny-pkg") == [newer.name]
        assert not (static / owner / "label" / "feat" / "files" / wheel.name).exists()
        storage.remove(owner, "feat", Selection(project="tiny-pkg"))
        assert not page(static, owner, "feat", "tiny-pkg").parent.exists()
        assert b"tiny-pkg" not in page(static, owner, "feat", "", "html").read_bytes()
        assert not list((static / owner / "label" / "feat" / "files").iterdir())
        storage.delete_label(owner, "feat")
    finally:
        storage.close()
    assert not (static / owner / "label" / "feat").exists()
    # A private owner: its main label goes too.
    make_private(hub, owner)
    assert not (static / owner / "simple").exists()
    assert not (static / owner / "files").exists()
    assert not list(static.rglob("*.tmp"))


def test_the_tree_is_rebuilt_at_startup(tmp_path: Path) -> None:
    """Changes made while no hub ran (or a tree deleted by hand) are caught up on start."""
    static = tmp_path / "static"
    wheel = make_wheel(tmp_path / "dist", "tiny-pkg", "1.0")
    with running_hub(tmp_path / "root", extra_args=["--static-dir", str(static)]) as hub:
        token = create_token(hub.root, owner="acme", scope="upload")
        assert upload(hub.upload_url("acme", "a"), wheel, token).status == 200
        assert upload(hub.upload_url("acme", "b"), wheel, token).status == 200
    (static / "acme" / "label" / "a" / "simple" / "tiny-pkg" / "index.json").unlink()
    storage = open_storage(tmp_path / "root")  # no hub running: the root remembers the dir
    try:
        storage.set_label_private("acme", "b", True)
        assert not (static / "acme" / "label" / "b").exists()
        storage.static = None  # as if an older wheelhub had made the change
        storage.set_label_private("acme", "a", True)
        storage.set_label_private("acme", "a", False)
        storage.set_label_private("acme", "main", True)
    finally:
        storage.close()
    with running_hub(tmp_path / "root"):
        assert listed(static, "acme", "a", "tiny-pkg") == [wheel.name]
        assert not (static / "acme" / "simple").exists()
    # An owner's upstream merges another index into its pages per request: the hub's.
    storage = open_storage(tmp_path / "root")
    try:
        storage.set_upstream("acme", Upstream(url="https://pypi.org/simple/"))
        assert not (static / "acme" / "label" / "a").exists()
        storage.set_upstream("acme", None)
        assert listed(static, "acme", "a", "tiny-pkg") == [wheel.name]
    finally:
        storage.close()


def test_a_static_dir_that_cannot_be_written_is_refused_before_serving(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = subprocess.run([sys.executable, "-m", "wheelhub", "serve", "--root",
                             str(tmp_path / "root"), "--port", "1", "--static-dir",
                             str(blocker / "static")], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert f"--static-dir {blocker / 'static'}: cannot write there" in result.stderr
    assert "hint:" in result.stderr.lower() or "write access" in result.stderr
    assert not (tmp_path / "root" / "static-dir").exists()


def test_nginx_serves_public_pages_and_passes_the_rest_to_the_hub(
        static_hub: tuple[HubProcess, Path], owner: str, tmp_path: Path) -> None:
    hub, static = static_hub
    upstream = hub.base_url.removeprefix("http://")
    with running_nginx(static, [upstream], tmp_path / "nginx") as front:
        token = create_token(hub.root, owner=owner, scope="upload")
        # An upload through nginx is served by nginx from the tree within a second.
        wheel = make_wheel(tmp_path / "dist", "tiny-pkg", "1.0", requires_python=">=3.8")
        assert upload(urls.label_url(front, owner, "main"), wheel, token).status == 200
        index = urls.simple_url(front, owner, "main")
        deadline = time.monotonic() + 1.0
        while http(index + "tiny-pkg/").status != 200:
            assert time.monotonic() < deadline, "the upload did not appear within 1 s"
            time.sleep(0.02)
        # pip installs through nginx, and the hub never saw the page or file requests.
        python = make_venv(tmp_path / "venv")
        result = pip_install(python, index, tmp_path / "target", "tiny-pkg")
        assert result.returncode == 0, result.stdout + result.stderr
        assert (tmp_path / "target" / "tiny_pkg").is_dir()
        hub_log = hub.log_text()
        assert f"/{owner}/simple/tiny-pkg/" not in hub_log
        assert f"/{owner}/files/{wheel.name}" not in hub_log
        # PEP 691 negotiation by nginx; ?format= wins; gzip when asked.
        reply = http(index + "tiny-pkg/", headers={"Accept": PIP_ACCEPT})
        assert reply.headers["content-type"] == JSON
        assert json.loads(reply.body)["files"][0]["filename"] == wheel.name
        assert "Accept" in reply.headers["vary"]
        plain = http(index + "tiny-pkg/")
        assert plain.headers["content-type"].startswith("text/html")
        assert http(index + "tiny-pkg/?format=json").headers["content-type"] == JSON
        zipped = http(index + "tiny-pkg/", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers.get("content-encoding") == "gzip"
        assert gzip.decompress(zipped.body) == plain.body
        file_url = urls.file_url(front, owner, "main", wheel.name)
        got = http(file_url)
        assert got.headers["content-type"] == "application/zip"
        assert got.body == wheel.read_bytes()
        assert http(file_url + ".metadata").headers["content-type"].startswith("text/plain")
        # A private label: not in the tree, so the hub answers, 404 without a token.
        assert upload(urls.label_url(front, owner, "secret"), wheel, token).status == 200
        make_private(hub, owner, "secret")
        secret = urls.simple_url(front, owner, "secret")
        assert http(secret + "tiny-pkg/").status == 404
        assert http(urls.file_url(front, owner, "secret", wheel.name)).status == 404
        reader = create_token(hub.root, owner=owner, scope="read")
        assert http(secret + "tiny-pkg/", token=reader).status == 200
        via_token = urls.simple_url(urls.with_token(front, reader), owner, "secret", "tiny-pkg")
        assert http(via_token).status == 200
        # Everything else is the hub's: API, web pages, an unnormalized name's redirect.
        assert http(urls.api_url(front, owner)).status == 200
        assert http(urls.owner_url(front, owner)).status == 200
        assert http(index + "Tiny_Pkg/").status in (301, 308)
    access = (tmp_path / "nginx" / "access.log").read_text()  # flushed as nginx stopped
    assert reader not in access and "/t/***/" in access


def test_workers_on_postgres_share_one_tree(postgres: Postgres, tmp_path: Path) -> None:
    """``--workers 2``: the tree is built once before forking; each worker mirrors its own
    commits, and every upload's page ends up listing it."""
    static = tmp_path / "static"
    wheels = [make_wheel(tmp_path / "dist", "tiny-pkg", f"1.{i}") for i in range(8)]
    with running_hub(tmp_path / "root", database=postgres.new_database(),
                     extra_args=["--workers", "2", "--static-dir", str(static)]) as hub:
        token = create_token(hub.root, owner="acme", scope="upload")
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(lambda w: upload(hub.upload_url("acme"), w, token), wheels))
        assert [r.status for r in replies] == [200] * len(wheels)
        assert sorted(listed(static, "acme", "main", "tiny-pkg")) == sorted(w.name for w in wheels)
        assert sorted(p.name for p in (static / "acme" / "files").glob("*.whl")) \
            == sorted(w.name for w in wheels)


def test_nginx_error_log_never_holds_a_token(tmp_path: Path) -> None:
    """nginx writes the raw request line with each error: a hub that is down makes one
    for every proxied request; those of /t/<token>/ URLs must not reach the log."""
    token = "whtokenneverlogged" + "0" * 24
    (tmp_path / "static").mkdir()
    down = f"127.0.0.1:{free_port()}"  # nothing listens: every proxied request is a 502
    with running_nginx(tmp_path / "static", [down], tmp_path / "nginx") as front:
        with_token = urls.with_token(front, token)
        for url in (urls.simple_url(with_token, "acme", "secret", "tiny-pkg"),
                    urls.file_url(with_token, "acme", "secret", "tiny_pkg-1.0-py3-none-any.whl"),
                    urls.simple_url(with_token, "acme", "main"), with_token + "//acme/simple/"):
            assert http(url).status == 502, url
        assert http(urls.simple_url(front, "acme", "public", "tiny-pkg")).status == 502
    errors = (tmp_path / "nginx" / "error.log").read_text()
    # The token-less request's error is logged (the log works), the token never is.
    assert "connect() failed" in errors and "/acme/label/public/simple/tiny-pkg/" in errors
    assert token not in errors
