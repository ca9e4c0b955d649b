"""The build frontends' sdists fetched once on the host (build/sdists.py), for real:
local --find-links, PyPI through the proxy, and a find-links page served over HTTP whose
sha256 does not match the file."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_sdist
from wheelhub.build.requirements import parse_requirements
from wheelhub.build.sdists import SDISTS_DIR, Release, SharedSdists

CA = Path("/etc/ssl/certs/ca-certificates.crt")


def look(requirements: Path, cache: Path, *projects: str) -> dict[str, Release]:
    parsed = parse_requirements(requirements)
    with SharedSdists(requirements=parsed, cache_dir=cache,
                      ca_bundle=CA if CA.exists() else None) as sdists:
        sdists.start(parsed.requirements)
        return {name: sdists.wait_for(name) for name in projects}


def fetch(requirements: Path, cache: Path, *projects: str) -> dict[str, str | None]:
    return {name: found.sdist for name, found in look(requirements, cache, *projects).items()}


def test_a_pinned_sdist_is_copied_once_from_local_find_links(tmp_path: Path) -> None:
    dists = tmp_path / "dists"
    dists.mkdir()
    original = make_sdist("whfix-pure", dists)
    make_sdist("whfix-pure", dists, version="1.1")
    make_sdist("whfix-optional", dists)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("--find-links ./dists\nwhfix-pure==1.0\nwhfix-optional>=1.0\n")
    found = fetch(requirements, tmp_path / "cache", "whfix-pure", "whfix-optional")
    fetched = found["whfix-pure"]
    assert fetched is not None and fetched.startswith(f"{SDISTS_DIR}/")
    path = tmp_path / "cache" / fetched
    assert path.name == "whfix-pure-1.0.tar.gz"
    assert path.read_bytes() == original.read_bytes()
    # A range may resolve to another sdist per Python: its containers fetch it.
    assert found["whfix-optional"] is None
    # The next run takes the file already in the cache.
    before = path.stat().st_mtime_ns
    original.unlink()
    assert fetch(requirements, tmp_path / "cache", "whfix-pure")["whfix-pure"] == fetched
    assert path.stat().st_mtime_ns == before


def test_a_version_nobody_has_is_left_to_the_container(tmp_path: Path) -> None:
    (tmp_path / "dists").mkdir()
    make_sdist("whfix-pure", tmp_path / "dists")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("--no-index\n--find-links ./dists\nwhfix-pure==9.9\n")
    assert fetch(requirements, tmp_path / "cache", "whfix-pure") == {"whfix-pure": None}
    assert not [p for p in (tmp_path / "cache" / SDISTS_DIR).rglob("*") if p.is_file()]


@pytest.mark.slow
def test_an_sdist_comes_from_pypi_with_its_published_sha256(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.16.0 ; python_version >= '3.99'\n")  # markers: the image's
    fetched = fetch(requirements, tmp_path / "cache", "six")["six"]
    assert fetched is not None
    path = tmp_path / "cache" / fetched
    assert path.name == "six-1.16.0.tar.gz"
    # The sha256 PyPI publishes for six 1.16.0's sdist.
    assert hashlib.sha256(path.read_bytes()).hexdigest() == (
        "1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on loopback serving *tmp_path*/web."""
    web = tmp_path / "web"
    web.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(web), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", web
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("listed", ["right", "wrong"])
def test_a_find_links_page_is_read_and_its_sha256_checked(
        tmp_path: Path, served: tuple[str, Path], listed: str) -> None:
    url, web = served
    sdist = make_sdist("whfix-pure", web)
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest() if listed == "right" else "0" * 64
    (web / "links.html").write_text(
        f'<a href="{sdist.name}#sha256={digest}">{sdist.name}</a>\n')
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"--no-index\n--find-links {url}/links.html\nwhfix-pure==1.0\n")
    fetched = fetch(requirements, tmp_path / "cache", "whfix-pure")["whfix-pure"]
    if listed == "right":
        assert fetched is not None
        assert (tmp_path / "cache" / fetched).read_bytes() == sdist.read_bytes()
    else:  # bytes that are not what the page promises never reach a build
        assert fetched is None
        assert not [p for p in (tmp_path / "cache" / SDISTS_DIR).rglob("*") if p.is_file()]


def test_the_wheels_of_the_version_say_whether_pip_would_take_one(tmp_path: Path) -> None:
    dists = tmp_path / "dists"
    dists.mkdir()
    make_sdist("whfix-clib", dists)
    for name in ("whfix_clib-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                 "whfix_clib-1.0-cp312-cp312-musllinux_1_2_x86_64.whl",
                 "whfix_clib-0.9-cp312-cp312-manylinux_2_17_x86_64.whl"):
        (dists / name).write_bytes(b"not read")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("--no-index\n--find-links ./dists\nwhfix-clib==1.0\n")
    found = look(requirements, tmp_path / "cache", "whfix-clib")["whfix-clib"]
    assert found.sdist is not None and found.sdist.endswith("/whfix-clib-1.0.tar.gz")
    assert found.wheels is not None and len(found.wheels) == 2  # 0.9 is another version
    plat = "manylinux_2_36_x86_64"  # what a bookworm image says
    assert found.has_wheel_for("cp311", plat) is True  # an older manylinux tag fits
    assert found.has_wheel_for("cp312", plat) is False  # musllinux does not: pip builds it
    assert found.has_wheel_for("cp311", "manylinux_2_12_x86_64") is False  # too new a glibc
    assert Release(sdist=None, wheels=None).has_wheel_for("cp311", plat) is None
