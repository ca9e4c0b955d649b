"""The same build, test and shell on every container engine: Docker and podman.

One small project (cp311; a pure package, one whose C speedups fail and fall back, one
depending on the first; a hook kept outside the project) per engine: `wheelhub build`,
`wheelhub test`, then `wheelhub shell` through a terminal, which starts from the
snapshot the build committed. podman runs the local images from its own store
(scripts/ensure-podman.sh loads them) and never pulls them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.conftest import BUILDER_IMAGE, RUNTIME_IMAGE, connect_engine, make_sdist
from tests.support.images import remove_prepared_since
from wheelhub.manifest import Manifest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WHEELHUB = str(Path(sys.executable).with_name("wheelhub"))
ENGINES = ["docker", pytest.param("podman", marks=pytest.mark.podman)]
PROMPT = r"\(wheelhub cp311\) [^\r\n]*# "


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any]]:
    client = connect_engine(request.param)
    yield request.param, client
    client.close()


@pytest.fixture(scope="module")
def project(engine: tuple[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    name, client = engine
    started = time.time()
    base = Path(tmp_path_factory.mktemp(f"engine-{name}"))
    project = base / "project"
    (project / "dists").mkdir(parents=True)
    for package in ("whfix-pure", "whfix-optional", "whfix-dependent"):
        make_sdist(package, project / "dists")
    (project / "requirements.txt").write_text(
        "--find-links ./dists\nwhfix-pure==1.0\nwhfix-optional==1.0\nwhfix-dependent==1.0\n")
    # The top-level test: runs for every package (none has a recipe test).
    (project / "wheelhub.yaml").write_text(
        "test: python -c \"import sys; print('default test ran in', sys.prefix)\"\n")
    (base / "hook.sh").write_text(f"export WHFIX_ENGINE={name}\n# {started}\n")
    yield project
    shutil.rmtree(base, ignore_errors=True)
    remove_prepared_since(client, started)


def wheelhub(project: Path, engine: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WHEELHUB, *args, "--engine", engine, "--python", "cp311"],
                          cwd=project, capture_output=True, text=True, timeout=600, check=False)


def build_args(project: Path) -> list[str]:
    return ["--image", BUILDER_IMAGE, "--network", "host", "--setup", str(project.parent / "hook.sh"),
            "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"]


def own_containers(client: Any, project: Path) -> list[Any]:
    found: list[Any] = client.containers.list(all=True, filters={"label": "org.wheelhub.run"})
    return [c for c in found
            if any(m.get("Source") == str(project) for m in c.attrs.get("Mounts") or [])]


def test_build_test_and_shell(engine: tuple[str, Any], project: Path) -> None:
    name, client = engine
    built = wheelhub(project, name, "build", *build_args(project))
    assert built.returncode == 0, built.stdout + built.stderr
    assert "3 built, 0 cached, 0 failed" in built.stdout
    manifest = Manifest.load(project / "wheelhouse")
    assert manifest.image_id == client.images.get(BUILDER_IMAGE).id  # the local image, not pulled
    assert sorted(manifest.wheel_filenames()) == [
        "whfix_dependent-1.0-py3-none-any.whl", "whfix_optional-1.0-py3-none-any.whl",
        "whfix_pure-1.0-py3-none-any.whl"]

    tested = wheelhub(project, name, "test", "--runtime-image", RUNTIME_IMAGE)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "3 passed, 0 failed, 0 untested" in tested.stdout
    log = project / "wheelhouse" / "logs" / "cp311" / "whfix-dependent.test.log"
    assert "default test ran in /" in log.read_text()

    child = pexpect.spawn(WHEELHUB, ["shell", "--engine", name, "--python", "cp311",
                                     *build_args(project)],
                          cwd=str(project), encoding="utf-8", timeout=180, dimensions=(50, 400))
    child.expect(PROMPT)
    ready = re.search(r"ready in ([0-9.]+) s \(from the prepared snapshot\)", str(child.before))
    assert ready, child.before
    print(f"{name}: shell ready from the snapshot in {ready.group(1)} s")
    assert len(own_containers(client, project)) == 1
    child.sendline('echo "<""<$WHFIX_ENGINE $(python -V)>"">"')
    child.expect(r"<<(.*)>>")
    assert re.fullmatch(rf"{name} Python 3\.11\.\d+", child.match.group(1).strip())
    child.expect(PROMPT)
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert own_containers(client, project) == []
