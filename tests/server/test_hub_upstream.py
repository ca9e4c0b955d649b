"""One index URL, no dependency confusion: the owner's upstream, through pip and uv.

The upstream is a second real hub on loopback holding ``six`` and an attacker's
``pyyaml 99.0``; the owner's label holds the team's pyyaml. A static tree served by
``http.server`` plays an upstream whose file does not match its page.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.dists import make_wheel
from tests.support.hub import HubProcess, http, running_hub, upload
from tests.support.pip import installed_version, offline_pip_env, pip_install
from tests.support.processes import free_port, running
from wheelhub.index.simple import JSON_TYPE
from wheelhub.server import create_token, open_storage

BIN = Path(sys.executable).parent
JSON = {"Accept": JSON_TYPE}


@contextlib.contextmanager
def upstream_index(root: Path) -> Iterator[HubProcess]:
    """A second hub whose owner 'pypi' holds six 1.16.0 and an attacker's pyyaml 99.0."""
    with running_hub(root, extra_args=["--access-log"]) as index:
        token = create_token(index.root, owner="pypi", scope="upload")
        dist = root.parent / "upstream-dist"
        for wheel in (make_wheel(dist, "six", "1.16.0"),
                      make_wheel(dist, "pyyaml", "99.0", payload=b"raise SystemExit('pwned')\n")):
            assert upload(index.upload_url("pypi"), wheel, token).status == 200
        yield index


def owner_cli(hub: HubProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "wheelhub"), "owner", args[0], "--root", str(hub.root),
                           *args[1:]], capture_output=True, text=True, timeout=60, check=False)


def project_files(url: str) -> tuple[int, list[str], dict[str, Any]]:
    reply = http(url, headers=JSON)
    if reply.status != 200:
        return reply.status, [], {}
    data = json.loads(reply.body)
    return 200, [f["filename"] for f in data["files"]], data


@pytest.fixture
def team(hub: HubProcess, owner: str, dist_dir: Path) -> str:
    """The owner's pyyaml 6.0 on main, and a branch label feature-x on main."""
    token = create_token(hub.root, owner=owner, scope="upload")
    assert upload(hub.upload_url(owner), make_wheel(dist_dir, "pyyaml", "6.0"), token).status \
        == 200
    api = f"{hub.base_url}/api/v1/{owner}/labels/feature-x/create"
    created = http(api, method="POST", data=json.dumps({"bases": ["main"]}).encode(), token=token)
    assert created.status == 200, created.text
    return token


def test_one_index_url_installs_team_and_upstream_never_shadows(
        hub: HubProcess, owner: str, team: str, tmp_path: Path) -> None:
    with upstream_index(tmp_path / "upstream") as index:
        upstream_url = index.index_url("pypi")
        set_up = owner_cli(hub, "upstream", owner, upstream_url)
        assert set_up.returncode == 0, set_up.stderr
        label = hub.index_url(owner, "feature-x")

        # pip and uv, --index-url only: the team's pyyaml and the upstream's six.
        python = Path(sys.executable)
        installed = pip_install(python, label, tmp_path / "pip", "pyyaml", "six")
        assert installed.returncode == 0, installed.stdout + installed.stderr
        assert installed_version(python, tmp_path / "pip", "pyyaml") == "6.0"
        assert installed_version(python, tmp_path / "pip", "six") == "1.16.0"
        venv = tmp_path / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        uv = subprocess.run([str(BIN / "uv"), "pip", "install", "--python",
                             str(venv / "bin" / "python"), "--index-url", label, "pyyaml", "six"],
                            capture_output=True, text=True, env=offline_pip_env(), timeout=120,
                            check=False)
        assert uv.returncode == 0, uv.stderr
        site = next((venv / "lib").glob("python*/site-packages"))
        assert (site / "pyyaml" / "__init__.py").read_text() == "__version__ = '6.0'\n"
        assert (site / "six" / "__init__.py").read_text() == "__version__ = '1.16.0'\n"

        # The proxied page links files to the hub and says what it tracks (PEP 708).
        status, names, data = project_files(label + "six/")
        assert (status, names) == (200, ["six-1.16.0-py3-none-any.whl"])
        assert data["tracks"] == [upstream_url + "six/"]
        assert [f["url"] for f in data["files"]] == ["../../files/six-1.16.0-py3-none-any.whl"]
        wheel_sha = hashlib.sha256(next((tmp_path / "upstream-dist").glob("six-*")).read_bytes())
        blob = hub.root / "blobs" / wheel_sha.hexdigest()[:2] / wheel_sha.hexdigest()
        assert blob.is_file()  # fetched once, stored content-addressed

        # pyyaml 99.0 is never offered, by page or by file URL, also once the team's are gone.
        attacker = "pyyaml-99.0-py3-none-any.whl"
        assert project_files(label + "pyyaml/")[1] == ["pyyaml-6.0-py3-none-any.whl"]
        assert http(f"{hub.base_url}/{owner}/label/feature-x/files/{attacker}").status == 404
        admin = create_token(hub.root, owner=owner, scope="admin")
        removed = http(f"{hub.base_url}/api/v1/{owner}/labels/main/remove", method="POST",
                       data=b'{"project": "pyyaml"}', token=admin)
        assert removed.status == 200, removed.text
        assert project_files(label + "pyyaml/")[0] == 404
        refused = pip_install(python, label, tmp_path / "none", "pyyaml")
        assert refused.returncode != 0
        assert "pyyaml/" not in index.log_text(), "the name rule asked the upstream for pyyaml"

        # An explicit allowance shows both sides, with PEP 708's keys.
        allowed = owner_cli(hub, "upstream", owner, "--allow", "PyYAML")
        assert allowed.returncode == 0 and "allowed from both sides: pyyaml" in allowed.stdout
        assert upload(hub.upload_url(owner), make_wheel(tmp_path / "d2", "pyyaml", "6.1"),
                      team).status == 200
        status, names, data = project_files(label + "pyyaml/")
        assert names == ["pyyaml-6.1-py3-none-any.whl", attacker]
        assert data["tracks"] == [upstream_url + "pyyaml/"]
        assert upstream_url + "pyyaml/" in data["alternate-locations"]


def test_upstream_down_serves_cached_pages_and_says_so_otherwise(
        tmp_path: Path, dist_dir: Path) -> None:
    # TTL 0: every page request revalidates, so a stopped upstream is noticed at once.
    with running_hub(tmp_path / "hub", extra_args=["--upstream-ttl", "0"]) as hub:
        create_token(hub.root, owner="acme", scope="upload")
        with upstream_index(tmp_path / "upstream") as index:
            assert owner_cli(hub, "upstream", "acme", index.index_url("pypi")).returncode == 0
            label = hub.index_url("acme")
            assert project_files(label + "six/")[1] == ["six-1.16.0-py3-none-any.whl"]
            again = http(label + "six/", headers=JSON)  # revalidated: the upstream said 304
            assert again.status == 200
            python = Path(sys.executable)
            assert pip_install(python, label, tmp_path / "first", "six").returncode == 0
            assert "GET /pypi/simple/six/ 304" in index.log_text()
        # The upstream is gone: the cached page, metadata and file still install.
        installed = pip_install(python, label, tmp_path / "t", "six")
        assert installed.returncode == 0, installed.stdout + installed.stderr
        assert installed_version(python, tmp_path / "t", "six") == "1.16.0"
        never = http(label + "requests/", headers=JSON)
        assert never.status == 502
        assert "cannot be reached" in never.text or "nothing is cached" in never.text
        assert "upstream" in hub.log_text() and "serving the page cached" in hub.log_text()


def test_within_the_ttl_pages_and_files_come_from_the_cache(hub: HubProcess, tmp_path: Path) -> None:
    create_token(hub.root, owner="acme", scope="upload")
    with upstream_index(tmp_path / "upstream") as index:
        assert owner_cli(hub, "upstream", "acme", index.index_url("pypi")).returncode == 0
        label = hub.index_url("acme")
        wheel = f"{hub.base_url}/acme/label/main/files/six-1.16.0-py3-none-any.whl"
        for _ in range(3):
            assert project_files(label + "six/")[1] == ["six-1.16.0-py3-none-any.whl"]
            assert http(wheel).status == 200
            assert http(wheel + ".metadata").status == 200
        log = index.log_text()
        assert log.count("GET /pypi/simple/six/ ") == 1, log
        assert log.count("six-1.16.0-py3-none-any.whl ") == 1, log
        assert log.count("six-1.16.0-py3-none-any.whl.metadata ") == 1, log


@contextlib.contextmanager
def static_index(root: Path, files: dict[str, bytes], claimed: dict[str, str]) -> Iterator[str]:
    """A PEP 503 tree under http.server: simple/<project>/ lists *files* with the sha256
    *claimed* for each; returns the index URL."""
    (root / "simple").mkdir(parents=True)
    (root / "simple" / "index.html").write_text(
        "<html><head><title>Simple Index</title></head><body></body></html>")
    for filename, data in files.items():
        project = filename.split("-")[0]
        (root / "simple" / project).mkdir(exist_ok=True)
        (root / "files").mkdir(exist_ok=True)
        (root / "files" / filename).write_bytes(data)
        (root / "simple" / project / "index.html").write_text(
            f'<a href="../../files/{filename}#sha256={claimed[filename]}">{filename}</a>')
    port = free_port()
    url = f"http://127.0.0.1:{port}/simple/"
    with running([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port),
                  "--directory", str(root)], url, log=root.parent / "static.log"):
        yield url


def test_tampered_upstream_file_is_refused_and_not_stored(hub: HubProcess, owner: str,
                                                          tmp_path: Path) -> None:
    create_token(hub.root, owner=owner, scope="upload")
    good = make_wheel(tmp_path / "d", "evil", "1.0").read_bytes()
    filename = "evil-1.0-py3-none-any.whl"
    lie = hashlib.sha256(b"what the page promised").hexdigest()
    with static_index(tmp_path / "static", {filename: good}, {filename: lie}) as url:
        assert owner_cli(hub, "upstream", owner, url).returncode == 0
        page = http(hub.index_url(owner) + "evil/")
        assert page.status == 200 and filename in page.text
        reply = http(f"{hub.base_url}/{owner}/files/{filename}")
        assert reply.status == 502
        assert f"upstream file '{filename}' does not match its index page" in reply.text
        actual = hashlib.sha256(good).hexdigest()
        assert not (hub.root / "blobs" / actual[:2] / actual).exists()
        assert not (hub.root / "blobs" / lie[:2] / lie).exists()


def test_private_owner_token_never_goes_upstream(tmp_path: Path) -> None:
    with running_hub(tmp_path / "hub") as hub, upstream_index(tmp_path / "up") as index:
        reader = create_token(hub.root, owner="acme", scope="read")
        assert owner_cli(hub, "visibility", "acme", "private").returncode == 0
        assert owner_cli(hub, "upstream", "acme", index.index_url("pypi")).returncode == 0
        assert http(hub.index_url("acme") + "six/").status == 404  # private: no token, no page
        # The upstream hub answers 401 to any token it does not know: a forwarded one fails.
        page = http(hub.index_url("acme", token=reader) + "six/", headers=JSON)
        assert page.status == 200, page.text
        wheel = http(f"{hub.base_url}/t/{reader}/acme/files/six-1.16.0-py3-none-any.whl",
                     token=reader)
        assert wheel.status == 200
        assert reader not in index.log_text()


def test_bad_upstream_settings_are_refused_and_nothing_changes(hub: HubProcess, owner: str,
                                                               tmp_path: Path) -> None:
    create_token(hub.root, owner=owner, scope="upload")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<html><body>A blog</body></html>")
    port = free_port()
    with running([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port),
                  "--directory", str(tmp_path / "site")], f"http://127.0.0.1:{port}/",
                 log=tmp_path / "site.log"):
        blog = owner_cli(hub, "upstream", owner, f"http://127.0.0.1:{port}/")
    assert blog.returncode != 0 and "is not a package index" in blog.stderr, blog.stderr
    cases = {
        (hub.base_url + "/_health",): "is this hub itself",
        (hub.index_url(owner),): "is this hub itself",
        ("ftp://example.org/simple/",): "not an http(s) URL",
        (f"http://127.0.0.1:{free_port()}/simple/",): "cannot be reached",
        ("--allow", "not a name!", "--allow=-bad"): "not valid project names: "
                                                       "'not a name!', '-bad'",
    }
    for args, message in cases.items():
        result = owner_cli(hub, "upstream", owner, *args)
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    missing = owner_cli(hub, "upstream", "nobody-here", hub.index_url(owner))
    assert missing.returncode != 0 and "owner 'nobody-here' not found" in missing.stderr
    storage = open_storage(hub.root)
    try:
        assert storage.get_upstream(owner) is None
    finally:
        storage.close()


def _pypi_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/six/", timeout=10):
            return True
    except (urllib.error.URLError, OSError):
        return False


@pytest.mark.slow
def test_boundary_real_pypi(hub: HubProcess, owner: str, tmp_path: Path) -> None:
    """The real PyPI as an upstream: a tiny package through the hub (skips when offline)."""
    if not _pypi_reachable():
        pytest.skip("pypi.org cannot be reached from here")
    create_token(hub.root, owner=owner, scope="upload")
    result = owner_cli(hub, "upstream", owner, "https://pypi.org/simple/")
    assert result.returncode == 0, result.stderr
    download = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
         "-d", str(tmp_path / "d"), "--index-url", hub.index_url(owner), "six==1.16.0"],
        capture_output=True, text=True, env=offline_pip_env(), timeout=120, check=False)
    assert download.returncode == 0, download.stdout + download.stderr
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["six-1.16.0-py2.py3-none-any.whl"]
