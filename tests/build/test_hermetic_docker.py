"""``wheelhub build --hermetic`` for real: the host fetches, the containers have no network.

One project is built once with a package whose setup.py downloads at build time; the
user's checks: the others build from the prefetched files, the downloader fails naming
itself and the URL (and builds fine with a network), the manifest locks every file by
sha256, a second run fetches nothing, and bad requirements fail before any container.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BUILDER_IMAGE, make_sdist
from tests.support.images import remove_prepared_since
from wheelhub.manifest import MANIFEST_NAME
from wheelhub.util.fileio import sha256_file

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WHEELHUB = str(Path(sys.executable).with_name("wheelhub"))
HOOK = """\
if ! [ -f /usr/include/yaml.h ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libyaml-dev >/dev/null
fi
"""
PACKAGES = ("whfix-clib", "whfix-pure", "whfix-dependent", "whfix-netfetch")


def run_build(project: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [WHEELHUB, "build", "--image", BUILDER_IMAGE, "--network", "host",
            "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "--python", "cp311",
            "--cache-dir", str(cache), *args]
    return subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=900,
                          check=False, env={**os.environ, "LANG": "C.UTF-8"})


def make_project(base: Path, packages: tuple[str, ...], requirements: str) -> Path:
    project = base / uuid.uuid4().hex[:8]
    (project / "dists").mkdir(parents=True)
    for name in packages:
        make_sdist(name, project / "dists")
    (project / "requirements.txt").write_text("--find-links ./dists\n" + requirements)
    (project / "build-setup.sh").write_text(HOOK)
    return project


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[Path]:
    started = time.time()
    path = Path(tmp_path_factory.mktemp("hermetic"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
    remove_prepared_since(docker_client, started)


@pytest.fixture(scope="module")
def cache(base: Path) -> Path:
    return base / "cache"


@pytest.fixture(scope="module")
def project(base: Path) -> Path:
    project = make_project(base, PACKAGES, "".join(f"{name}==1.0\n" for name in PACKAGES))
    # A hook unique to this run, so the first build prepares a fresh snapshot.
    (project / "build-setup.sh").write_text(HOOK + f"# run {uuid.uuid4().hex}\n")
    return project


@pytest.fixture(scope="module")
def first(project: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return run_build(project, cache, "--hermetic")


def manifest(project: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((project / "wheelhouse" / MANIFEST_NAME).read_text())
    return data


def test_builds_from_the_prefetched_files_alone(first: subprocess.CompletedProcess[str],
                                                project: Path) -> None:
    assert first.returncode == 1, first.stderr  # whfix-netfetch fails, alone
    statuses = {e["project"]: e["status"] for e in manifest(project)["entries"]}
    assert statuses == {"whfix-clib": "built", "whfix-pure": "built",
                        "whfix-dependent": "built", "whfix-netfetch": "failed"}
    wheels = {p.name.split("-")[0] for p in (project / "wheelhouse").glob("*.whl")}
    assert wheels == {"whfix_clib", "whfix_pure", "whfix_dependent"}


def test_the_manifest_locks_every_fetched_file_by_sha256(
        first: subprocess.CompletedProcess[str], project: Path, cache: Path) -> None:
    lock = [f for f in manifest(project)["lock"] if f["filename"]]
    by_name = {f["filename"]: f["sha256"] for f in lock}
    for name in PACKAGES:  # the sdists: the very bytes in the project's find-links
        sdist = f"{name}-1.0.tar.gz"
        assert by_name[sdist] == sha256_file(project / "dists" / sdist)
    assert any(n.startswith("setuptools-") and n.endswith(".whl") for n in by_name)  # backend
    for name, digest in by_name.items():
        assert sha256_file(cache / "hermetic" / "files" / name) == digest


def test_a_build_that_downloads_fails_naming_package_and_url(
        first: subprocess.CompletedProcess[str], base: Path, cache: Path) -> None:
    assert ("whfix-netfetch: the build tried to fetch https://pypi.org/simple/six/ with no "
            "network (--hermetic)") in first.stderr
    # The same package builds with a network: the failure is the missing network.
    online = make_project(base, ("whfix-netfetch",), "whfix-netfetch==1.0\n")
    done = run_build(online, cache, "--setup", "")
    assert done.returncode == 0, done.stderr
    assert list((online / "wheelhouse").glob("whfix_netfetch-1.0-*.whl"))


def test_a_second_run_fetches_nothing_new(first: subprocess.CompletedProcess[str],
                                          project: Path, cache: Path) -> None:
    files = cache / "hermetic" / "files"
    before = {p.name: p.stat().st_mtime_ns for p in files.iterdir()}
    lock_before = manifest(project)["lock"]
    again = run_build(project, cache, "--hermetic", "--force")
    assert again.returncode == 1, again.stderr
    assert ", 0 fetched now" in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in files.iterdir()} == before
    assert manifest(project)["lock"] == lock_before


def test_an_unlisted_dependency_is_named(first: subprocess.CompletedProcess[str], base: Path,
                                         cache: Path) -> None:
    # whfix-dependent needs whfix-pure, which is neither listed nor in its find-links.
    project = make_project(base, ("whfix-dependent",), "whfix-dependent==1.0\n")
    done = run_build(project, cache, "--hermetic", "--setup", "")
    assert done.returncode == 1
    assert ("whfix-dependent: the build tried to fetch 'whfix-pure>=1.0' from the package "
            "index (it was not prefetched)") in done.stderr


@pytest.mark.parametrize(("requirement", "message"), [
    ("whfix-pure>=1.0", "'whfix-pure>=1.0' is not pinned"),
    ("whfix-nowhere-to-be-found==1.0",
     "'whfix-nowhere-to-be-found==1.0' has no sdist, and no wheel for cp311"),
])
def test_unfetchable_requirements_fail_before_any_container(base: Path, cache: Path,
                                                            requirement: str,
                                                            message: str) -> None:
    project = make_project(base, ("whfix-pure",), requirement + "\n")
    done = run_build(project, cache, "--hermetic", "--setup", "")
    assert done.returncode == 2, done.stderr
    assert f"requirements.txt:2: {message}" in done.stderr
    assert not (project / "wheelhouse" / "logs").exists()  # no build container ran


def test_the_build_uv_frontend_builds_hermetically(first: subprocess.CompletedProcess[str],
                                                   base: Path, cache: Path) -> None:
    # The frontends build every requirement from its sdist, and pip installs the sdist's
    # build backend (a prefetched wheel) to read its metadata: both must be in the prefetch.
    project = make_project(base, ("whfix-pure", "whfix-dependent"),
                           "whfix-pure==1.0\nwhfix-dependent==1.0\n")
    done = run_build(project, cache, "--hermetic", "--setup", "", "--frontend", "build[uv]")
    assert done.returncode == 0, done.stderr
    wheels = sorted(p.name for p in (project / "wheelhouse").glob("*.whl"))
    assert wheels == ["whfix_dependent-1.0-py3-none-any.whl", "whfix_pure-1.0-py3-none-any.whl"]
    log = (project / "wheelhouse" / "logs" / "cp311" / "whfix-pure.log").read_text()
    assert "--installer uv" in log and "--no-index" in log
