"""`wheelhub test` for real: wheelhouses built by `wheelhub build`, tested in the runtime image.

One good wheelhouse (whfix-clib with libyaml vendored, whfix-pure, whfix-dependent)
and one broken one (whfix-clib repaired with ``exclude: [libyaml-0.so.2]``, so the
library is not vendored) are built once for cp311 and checked the way a user would:
exit status, the summary table, the named library, the manifest and the report.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BUILDER_IMAGE, RUNTIME_IMAGE, make_sdist
from wheelhub.manifest import Manifest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WHEELHUB = str(Path(sys.executable).with_name("wheelhub"))
HOOK = """\
if ! [ -f /usr/include/yaml.h ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libyaml-dev >/dev/null
fi
export WHFIX_HOOK_FLAG=from-hook
"""
GOOD_CONFIG = """\
recipes:
  whfix-dependent:
    test: python -c 'import whfix_dependent; print("TEST-SAYS", whfix_dependent.welcome())'
"""
# The same, plus a test command that needs the network, which the test container lacks.
NETWORK_CONFIG = GOOD_CONFIG + """\
  whfix-pure:
    test: python -c 'import urllib.request; urllib.request.urlopen("https://pypi.org/simple/", timeout=5)'
"""
BROKEN_CONFIG = """\
recipes:
  whfix-clib:
    exclude: [libyaml-0.so.2]
"""


def wheelhub(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WHEELHUB, *args], cwd=project, capture_output=True, text=True,
                          timeout=600, check=False)


def build(project: Path, *args: str) -> None:
    done = wheelhub(project, "build", "--image", BUILDER_IMAGE, "--network", "host",
                    "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "--python", "cp311",
                    *args)
    assert done.returncode == 0, done.stdout + done.stderr


def run_test(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return wheelhub(project, "test", "--runtime-image", RUNTIME_IMAGE, *args)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[Path]:
    project = Path(tmp_path_factory.mktemp("verify")) / "project"
    (project / "dists").mkdir(parents=True)
    for name in ("whfix-clib", "whfix-pure", "whfix-dependent"):
        make_sdist(name, project / "dists")
    (project / "requirements.txt").write_text(
        "--find-links ./dists\nwhfix-clib==1.0\nwhfix-pure==1.0\nwhfix-dependent==1.0\n")
    (project / "broken.txt").write_text("--find-links ./dists\nwhfix-clib==1.0\n")
    (project / "requirements-build.txt").write_text("setuptools>=68\n")
    (project / "build-setup.sh").write_text(HOOK)
    (project / "wheelhub.yaml").write_text(GOOD_CONFIG)
    (project / "network.yaml").write_text(NETWORK_CONFIG)
    (project / "broken.yaml").write_text(BROKEN_CONFIG)
    build(project)
    build(project, "--config", "broken.yaml", "-r", "broken.txt", "-w", "broken")
    yield project
    shutil.rmtree(project.parent, ignore_errors=True)


def manifest_tests(wheelhouse: Path) -> dict[str, tuple[str, str]]:
    manifest = Manifest.load(wheelhouse)
    return {e.project: (e.test.status, e.test.detail) for e in manifest.entries}


def no_test_containers(docker_client: Any) -> bool:
    leftovers: list[Any] = docker_client.containers.list(all=True, filters={"label": "org.wheelhub.test"})
    return leftovers == []


def test_good_wheels_pass_and_the_manifest_and_report_say_so(
        project: Path, docker_client: Any) -> None:
    before = manifest_tests(project / "wheelhouse")
    assert {status for status, _ in before.values()} == {"untested"}
    done = run_test(project)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["package", "cp311"]
    assert {tuple(line.split()) for line in lines[2:5]} == {
        ("whfix-clib", "passed"), ("whfix-dependent", "passed"), ("whfix-pure", "passed")}
    assert lines[-1].startswith("3 passed, 0 failed, 0 untested")
    after = manifest_tests(project / "wheelhouse")
    assert {p: s for p, (s, _) in after.items()} == {
        "whfix-clib": "passed", "whfix-pure": "passed", "whfix-dependent": "passed"}
    # The recipe's test command ran inside the venv, against the installed wheels.
    log = project / "wheelhouse" / "logs" / "cp311" / "whfix-dependent.test.log"
    assert "TEST-SAYS HELLO DEPENDENT" in log.read_text()
    assert "--no-index" in log.read_text()
    report = json.loads((project / "wheelhouse" / "report.json").read_text())
    assert report["test"]["summary"] == {"passed": 3, "failed": 0, "untested": 0}
    assert {e["project"]: e["test"]["status"] for e in report["entries"]}["whfix-clib"] == "passed"
    assert "id='tests'" in (project / "wheelhouse" / "report.html").read_text()
    # publish now has tested wheels to offer.
    published = {w.project for w in Manifest.load(project / "wheelhouse").publishable_wheels()}
    assert published == {"whfix-clib", "whfix-pure", "whfix-dependent"}
    assert no_test_containers(docker_client)


def test_unvendored_library_fails_and_is_named(project: Path, docker_client: Any) -> None:
    done = run_test(project, "-w", "broken", "--config", "broken.yaml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "whfix-clib [cp311]: import whfix_clib failed: missing library libyaml-0.so.2" \
        in done.stderr
    assert "cannot open shared object file" in done.stderr  # the traceback itself
    assert "whfix-clib  failed" in done.stdout
    status, detail = manifest_tests(project / "broken")["whfix-clib"]
    assert status == "failed"
    assert "libyaml-0.so.2" in detail.splitlines()[0]
    assert "Traceback (most recent call last)" in detail
    assert Manifest.load(project / "broken").publishable_wheels() == []
    assert no_test_containers(docker_client)


def test_the_test_container_has_no_network(project: Path, tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wh"
    shutil.copytree(project / "wheelhouse", wheelhouse)
    done = run_test(project, "--config", "network.yaml", "-w", str(wheelhouse))
    assert done.returncode == 1, done.stdout + done.stderr
    tests = manifest_tests(wheelhouse)
    assert tests["whfix-pure"][0] == "failed"
    assert tests["whfix-pure"][1].startswith("test command exited with status 1")
    assert "urlopen error" in tests["whfix-pure"][1] or "Errno" in tests["whfix-pure"][1]
    assert tests["whfix-clib"][0] == "passed"
    assert done.stdout.splitlines()[-1].startswith("2 passed, 1 failed")


@pytest.fixture
def versioned_images(docker_client: Any) -> Iterator[str]:
    """Images per Python version with `python` on PATH, like python:3.11-slim (offline)."""
    repository = "wheelhub-test/python-versioned"
    for tag in ("cp311-cp311", "cp312-cp312"):
        version = f"3.{tag[3:5]}"
        dockerfile = (f"FROM {RUNTIME_IMAGE}\n"
                      f"RUN ln -s /opt/python/{tag}/bin/python /usr/local/bin/python\n")
        docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()),
                                   tag=f"{repository}:{version}", rm=True, network_mode="none")
    yield repository + ":{version}"
    for version in ("3.11", "3.12"):
        docker_client.images.remove(f"{repository}:{version}", force=True)


def test_runtime_image_template_picks_the_image_by_version(
        project: Path, tmp_path: Path, versioned_images: str) -> None:
    wheelhouse = tmp_path / "wh"
    shutil.copytree(project / "wheelhouse", wheelhouse)
    done = wheelhub(project, "test", "--runtime-image", versioned_images, "-w", str(wheelhouse))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "wheelhub-test/python-versioned:3.11: testing 3 package(s)" in done.stderr
    entry = Manifest.load(wheelhouse).find("whfix-clib", "cp311")
    assert entry is not None and entry.test.status == "passed"
    assert entry.test.image == "wheelhub-test/python-versioned:3.11"
