"""`wheelhub shell` through a pseudo-terminal: type commands, read their output, exit.

One project (a setup hook kept outside the project exporting a flag, a recipe env, a
package that fails to build) is built once for cp311 so ``--failed`` has a failure to
reopen and the shells start from the build's prepared snapshot.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.conftest import BUILDER_IMAGE, make_sdist
from tests.support.images import remove_prepared_since
from wheelhub.manifest import Manifest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WHEELHUB = str(Path(sys.executable).with_name("wheelhub"))
COMMON = ["--image", BUILDER_IMAGE, "--network", "host",
          "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"]
PROMPT = r"\(wheelhub cp311\) [^\r\n]*# "


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[Path]:
    started = time.time()
    project = Path(tmp_path_factory.mktemp("shell")) / "project"
    (project / "dists").mkdir(parents=True)
    # Shared by projects, so outside this one: given relative to the build, absolute to shells.
    (project.parent / "hooks").mkdir()
    hook(project).write_text("export WHFIX_HOOK_FLAG=from-hook\n")
    for name in ("whfix-pure", "whfix-broken"):
        make_sdist(name, project / "dists")
    (project / "requirements.txt").write_text(
        "--find-links ./dists\nwhfix-pure==1.0\nwhfix-broken==1.0\n")
    (project / "requirements-build.txt").write_text("setuptools>=68\n")
    (project / "wheelhub.yaml").write_text(
        "recipes:\n  whfix-pure:\n    env: {WHFIX_RECIPE_VAR: from-recipe}\n")
    done = subprocess.run([WHEELHUB, "build", *COMMON, "--python", "cp311",
                           "--setup", "../hooks/build-setup.sh"], cwd=project,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 1, done.stdout + done.stderr  # whfix-broken fails on purpose
    yield project
    shutil.rmtree(project.parent, ignore_errors=True)
    remove_prepared_since(docker_client, started)


def hook(project: Path) -> Path:
    return project.parent / "hooks" / "build-setup.sh"


def spawn(project: Path, *args: str) -> pexpect.spawn:
    child = pexpect.spawn(WHEELHUB, ["shell", *COMMON, "--setup", str(hook(project)), *args],
                          cwd=str(project),
                          encoding="utf-8", timeout=180, dimensions=(50, 400))
    child.expect(PROMPT)
    return child


def type_line(child: pexpect.spawn, command: str) -> str:
    """Run *command* in the shell and return what it printed (ANSI noise removed).

    The output is fenced by markers the echoed command line cannot match (``"<<""<"``
    prints ``<<<``), since readline may redraw the prompt and the typed line.
    """
    child.sendline(f'echo "<<""<"; {command}; echo ">>"">"')
    child.expect(r"<<<\r?\n(.*?)>>>", timeout=180)
    output = str(child.match.group(1))
    child.expect(PROMPT)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output).replace("\r", "")


def last_status(child: pexpect.spawn) -> int:
    """The exit status of the command run last (before type_line's own echo resets it)."""
    child.sendline("status=$?")
    child.expect(PROMPT)
    return int(type_line(child, "echo $status").strip())


def build_containers(docker_client: Any, project: Path) -> list[Any]:
    """This project's shell containers (other sessions may run shells at the same time)."""
    found: list[Any] = docker_client.containers.list(
        all=True, filters={"label": "org.wheelhub.build.run=shell-cp311"})
    return [c for c in found
            if any(m.get("Source") == str(project) for m in c.attrs.get("Mounts") or [])]


def exit_and_check_gone(child: pexpect.spawn, docker_client: Any, project: Path) -> None:
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert build_containers(docker_client, project) == []


def test_shell_is_the_build_environment(project: Path, docker_client: Any) -> None:
    child = spawn(project, "--python", "cp311")
    header = str(child.before)
    assert "wheelhub shell: cp311 in " + BUILDER_IMAGE in header
    ready = re.search(r"ready in ([0-9.]+) s \(from the prepared snapshot\)", header)
    assert ready, header  # the build's snapshot, although the hook is given another way
    print(f"shell ready from the snapshot in {ready.group(1)} s")
    assert len(build_containers(docker_client, project)) == 1
    assert type_line(child, "echo flag=$WHFIX_HOOK_FLAG").strip() == "flag=from-hook"
    # The prefix's interpreter and scripts come first, as in an activated venv.
    assert re.fullmatch(r"Python 3\.11\.\d+", type_line(child, "python -V").strip())
    assert "/opt/python/cp311-cp311/" in type_line(child, "pip --version")
    assert type_line(child, "command -v python").strip() == "/opt/python/cp311-cp311/bin/python"
    assert type_line(child, "which gcc").strip().endswith("/gcc")
    assert type_line(child, "pwd").strip() == "/wheelhub/work"
    assert type_line(child, "echo $PIP_CERT").strip() == "/wheelhub/ca-bundle.crt"
    # Build requirements are installed, and their pins apply to isolated builds.
    assert "setuptools" in type_line(
        child, "$WHEELHUB_PYTHON -m pip list --format=freeze | grep -i '^setuptools='")
    assert type_line(child, "echo $PIP_CONSTRAINT").strip() == "/wheelhub/work/build-constraints.txt"
    exit_and_check_gone(child, docker_client, project)


def test_package_applies_its_recipe_and_shows_the_build_command(
        project: Path, docker_client: Any) -> None:
    wheelhouse = sorted(p.name for p in (project / "wheelhouse").iterdir())
    child = spawn(project, "--python", "cp311", "--package", "whfix_pure")
    header = str(child.before)
    assert "builds whfix-pure with (in /project; also $WHEELHUB_COMMAND):" in header
    assert re.search(r"python -m pip wheel .*--find-links /wheelhub/wheelhouse .*whfix-pure==1\.0",
                     header)
    assert "sdist unpacked in /wheelhub/work/src/whfix-pure-1.0" in header
    # Arrow-up twice: the build's pip wheel command (once: its auditwheel repair); it builds.
    child.send("\x1b[A\x1b[A\r")
    child.expect(r"Saved /wheelhub/work/out/whfix-pure/whfix_pure-1\.0-py3-none-any\.whl")
    child.expect(PROMPT)
    assert last_status(child) == 0
    first = type_line(child, "history | head -2").splitlines()
    assert "cd /project && /opt/python/cp311-cp311/bin/python -m pip wheel" in first[0]
    assert "auditwheel repair -w /wheelhub/work/repaired/whfix-pure" in first[1]
    assert sorted(p.name for p in (project / "wheelhouse").iterdir()) == wheelhouse
    assert type_line(child, "echo $WHFIX_RECIPE_VAR $WHFIX_HOOK_FLAG").strip() == \
        "from-recipe from-hook"
    assert type_line(child, "cd -; ls").split() == [
        "/wheelhub/work/src/whfix-pure-1.0", "PKG-INFO", "VERSION", "setup.py", "whfix_pure"]
    exit_and_check_gone(child, docker_client, project)


def test_failed_reopens_the_failing_build(project: Path, docker_client: Any) -> None:
    manifest = Manifest.load(project / "wheelhouse")
    child = spawn(project, "--failed")
    header = str(child.before)
    # The default frontend (auto) built the sdist the host fetched with uv build.
    assert "whfix-broken [cp311] failed: uv build exited with status 2" in header
    assert "the command that failed (in /project" in header
    assert re.search(r"/uv build --wheel --python /opt/python/cp311-cp311/bin/python .*"
                     r"whfix-broken-1\.0\.tar\.gz", header)
    (container,) = build_containers(docker_client, project)
    # The image the build used, by digest; the container starts from its prepared snapshot.
    assert f"({manifest.image_id[:19]})" in header
    assert container.image.attrs["Parent"] == manifest.image_id
    child.send("\x1b[A\r")  # arrow-up once: the command that failed
    child.expect("fails to build on purpose")
    child.expect(PROMPT)
    assert last_status(child) == 2  # uv build's status for a failed build
    exit_and_check_gone(child, docker_client, project)


def test_unknown_package_is_refused_before_any_container(
        project: Path, docker_client: Any) -> None:
    child = pexpect.spawn(WHEELHUB, ["shell", *COMMON, "--package", "whfix-pur"],
                          cwd=str(project), encoding="utf-8", timeout=60)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert "error: --package 'whfix-pur' is not in the requirements" in str(child.before)
    assert "did you mean 'whfix-pure'?" in str(child.before)
    assert build_containers(docker_client, project) == []


def test_closing_the_terminal_removes_the_container(project: Path, docker_client: Any) -> None:
    child = spawn(project, "--python", "cp311")
    assert len(build_containers(docker_client, project)) == 1
    child.kill(signal.SIGHUP)  # as when the terminal window closes
    child.expect(pexpect.EOF)
    child.close()
    assert child.signalstatus is None and child.exitstatus == 128 + signal.SIGHUP
    assert build_containers(docker_client, project) == []
