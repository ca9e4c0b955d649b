"""Publishing to a static directory, installed from by pip via file://, nginx and http.server."""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.cli import CliRunner
from tests.support.dists import Pkg, make_wheelhouse
from tests.support.pip import installed_version, pip_install
from tests.support.processes import free_port, running
from wheelhub.index.simple import JSON_TYPE
from wheelhub.publish import PublishOptions, publish


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under *root* with (inode, mtime_ns): unchanged files keep both."""
    return {str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_publish_to_directory_then_pip_installs_from_file_url(
        cli: CliRunner, wheelhouse: Path, tmp_path: Path, clean_venv: Path) -> None:
    index = tmp_path / "index"
    result = cli("publish", "-w", str(wheelhouse), "--to", f"file://{index}", "--label",
                 "feature-x")
    assert result.code == 0, result.err
    assert result.last_line == "2 uploaded, 0 skipped, 0 failed"
    simple = index / "feature-x" / "simple"
    assert (simple / "alpha" / "index.html").is_file()
    assert (simple / "beta-pkg" / "index.json").is_file()
    assert (index / "_files" / "alpha-1.0-py3-none-any.whl.metadata").is_file()

    target = tmp_path / "site"
    proc = pip_install(clean_venv, f"file://{simple}/", target, "alpha", "beta-pkg==2.0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert installed_version(clean_venv, target, "alpha") == "1.0"
    assert installed_version(clean_venv, target, "beta_pkg") == "2.0"


def test_second_publish_uploads_nothing_and_rewrites_nothing(
        cli: CliRunner, wheelhouse: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    assert cli("publish", "-w", str(wheelhouse), "--to", f"file://{index}",
               "--label", "main").code == 0
    before = tree(index)
    again = cli("publish", "-w", str(wheelhouse), "--to", f"file://{index}", "--label", "main")
    assert again.code == 0
    assert again.last_line == "0 uploaded, 2 skipped, 0 failed"
    assert tree(index) == before


def test_adding_a_wheel_rewrites_only_the_pages_that_change(tmp_path: Path) -> None:
    index = tmp_path / "index"
    first = make_wheelhouse(tmp_path / "one", [Pkg("alpha"), Pkg("beta-pkg")])
    publish(PublishOptions(wheelhouse=first, to=f"file://{index}", label="main"))
    before = tree(index)
    second = make_wheelhouse(tmp_path / "two", [Pkg("alpha"), Pkg("beta-pkg"),
                                                Pkg("beta-pkg", "3.0")])
    # the same alpha/beta 1.0 bytes (deterministic wheels) plus a new beta version
    result = publish(PublishOptions(wheelhouse=second, to=f"file://{index}", label="main"))
    assert result.summary_line() == "1 uploaded, 2 skipped, 0 failed"
    after = tree(index)
    changed = {name for name in after if before.get(name) != after[name]}
    assert changed == {"main/simple/beta-pkg/index.html", "main/simple/beta-pkg/index.json",
                       "_files/beta_pkg-3.0-py3-none-any.whl",
                       "_files/beta_pkg-3.0-py3-none-any.whl.metadata"}
    assert not list(index.rglob("*.tmp"))


def test_a_tree_written_by_an_earlier_release_is_read_and_extended(tmp_path: Path) -> None:
    index = tmp_path / "index"
    to = f"file://{index}"
    publish(PublishOptions(wheelhouse=make_wheelhouse(tmp_path / "one", [Pkg("alpha")]), to=to,
                           label="main"))
    page = index / "main" / "simple" / "alpha" / "index.json"
    data = json.loads(page.read_bytes())
    for entry in data["files"]:  # earlier releases wrote neither key when it had no value
        del entry["yanked"]
        del entry["requires-python"]
    page.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    two = make_wheelhouse(tmp_path / "two", [Pkg("alpha"), Pkg("alpha", "2.0")])
    result = publish(PublishOptions(wheelhouse=two, to=to, label="main"))
    assert result.summary_line() == "1 uploaded, 1 skipped, 0 failed"
    assert [f["filename"] for f in json.loads(page.read_bytes())["files"]] == [
        "alpha-1.0-py3-none-any.whl", "alpha-2.0-py3-none-any.whl"]


def test_labels_are_separate_subtrees_sharing_files(tmp_path: Path, wheelhouse: Path) -> None:
    index = tmp_path / "index"
    publish(PublishOptions(wheelhouse=wheelhouse, to=f"file://{index}", label="main"))
    result = publish(PublishOptions(wheelhouse=wheelhouse, to=f"file://{index}", label="dev"))
    assert result.summary_line() == "2 uploaded, 0 skipped, 0 failed"  # new to the label
    assert (index / "dev" / "simple" / "alpha" / "index.html").is_file()
    assert len(list((index / "_files").glob("*.whl"))) == 2


NGINX_CONF = """
{user}
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp; uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
    types {{ text/html html; application/octet-stream whl metadata;
            application/vnd.pypi.simple.v1+json json; }}
    map $http_accept $simple_index {{
        default index.html;
        "~application/vnd\\.pypi\\.simple\\.v1\\+json" index.json;
    }}
    server {{
        listen 127.0.0.1:{port};
        root {index};
        index $simple_index;
    }}
}}
"""


@pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                    reason="needs Debian's nginx-light")
def test_pip_installs_from_the_tree_served_by_nginx(
        wheelhouse: Path, tmp_path: Path, clean_venv: Path) -> None:
    index = tmp_path / "index"
    publish(PublishOptions(wheelhouse=wheelhouse, to=f"file://{index}", label="feature-x"))
    nginx_root = tmp_path / "nginx"
    (nginx_root / "tmp").mkdir(parents=True)
    port = free_port()
    conf = nginx_root / "nginx.conf"
    # pytest's tmp dirs are private to us; as root, let the workers be root too
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(user=user, root=nginx_root, port=port, index=index))
    url = f"http://127.0.0.1:{port}/feature-x/simple/"
    with running(["nginx", "-c", str(conf), "-p", str(nginx_root)], url,
                 log=tmp_path / "nginx.log"):
        target = tmp_path / "site"
        proc = pip_install(clean_venv, url, target, "alpha")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert installed_version(clean_venv, target, "alpha") == "1.0"
        request = urllib.request.Request(url + "alpha/", headers={"Accept": JSON_TYPE})
        with urllib.request.urlopen(request) as response:
            assert response.headers["Content-Type"] == JSON_TYPE
            assert b'"sha256"' in response.read()


def test_pip_installs_from_the_tree_served_by_http_server(
        wheelhouse: Path, tmp_path: Path, clean_venv: Path) -> None:
    index = tmp_path / "index"
    publish(PublishOptions(wheelhouse=wheelhouse, to=f"file://{index}", label="main"))
    port = free_port()
    url = f"http://127.0.0.1:{port}/main/simple/"
    with running([sys.executable, "-m", "http.server", "-b", "127.0.0.1", str(port),
                  "-d", str(index)], url, log=tmp_path / "http.log"):
        target = tmp_path / "site"
        proc = pip_install(clean_venv, url, target, "beta-pkg")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "beta_pkg-2.0-py3-none-any.whl.metadata" in (tmp_path / "http.log").read_text()
    assert installed_version(clean_venv, target, "beta_pkg") == "2.0"
