"""`wheelhub shell` through a pseudo-terminal: type commands, read their output, exit.

One project (a setup hook exporting a flag, a recipe env, a package that fails to
build) is built once for cp311 so ``--failed`` has a failure to reopen.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.conftest import BUILDER_IMAGE, make_sdist
from wheelhub.manifest import Manifest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WHEELHUB = str(Path(sys.executable).with_name("wheelhub"))
COMMON = ["--image", BUILDER_IMAGE, "--network", "host",
          "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"]
PROMPT = r"\(wheelhub cp311\) [^\r\n]*# "


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[Path]:
    project = Path(tmp_path_factory.mktemp("shell")) / "project"
    (project / "dists").mkdir(parents=True)
    for name in ("whfix-pure", "whfix-broken"):
        make_sdist(name, project / "dists")
    (project / "requirements.txt").write_text(
        "--find-links ./dists\nwhfix-pure==1.0\nwhfix-broken==1.0\n")
    (project / "requirements-build.txt").write_text("setuptools>=68\n")
    (project / "build-setup.sh").write_text("export WHFIX_HOOK_FLAG=from-hook\n")
    (project / "wheelhub.yaml").write_text(
        "recipes:\n  whfix-pure:\n    env: {WHFIX_RECIPE_VAR: from-recipe}\n")
    done = subprocess.run([WHEELHUB, "build", *COMMON, "--python", "cp311"], cwd=project,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 1, done.stdout + done.stderr  # whfix-broken fails on purpose
    yield project
    shutil.rmtree(project.parent, ignore_errors=True)


def spawn(project: Path, *args: str) -> pexpect.spawn:
    child = pexpect.spawn(WHEELHUB, ["shell", *COMMON, *args], cwd=str(project),
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


def build_containers(docker_client: Any, child: pexpect.spawn) -> list[Any]:
    """The shell containers this child's wheelhub started (its pid label); other runs on the
    same daemon do not count."""
    found: list[Any] = docker_client.containers.list(
        all=True, filters={"label": ["org.wheelhub.build.run=shell-cp311",
                                     f"org.wheelhub.pid={child.pid}"]})
    return found


def exit_and_check_gone(child: pexpect.spawn, docker_client: Any) -> None:
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert build_containers(docker_client, child) == []


def test_shell_is_the_build_environment(project: Path, docker_client: Any) -> None:
    child = spawn(project, "--python", "cp311")
    assert "wheelhub shell: cp311 in " + BUILDER_IMAGE in str(child.before)
    assert len(build_containers(docker_client, child)) == 1
    assert type_line(child, "echo flag=$WHFIX_HOOK_FLAG").strip() == "flag=from-hook"
    assert type_line(child, "which gcc").strip().endswith("/gcc")
    assert type_line(child, "pwd").strip() == "/wheelhub/work"
    assert type_line(child, "echo $PIP_CERT").strip() == "/wheelhub/ca-bundle.crt"
    # Build requirements are installed, and their pins apply to isolated builds.
    assert "setuptools" in type_line(
        child, "$WHEELHUB_PYTHON -m pip list --format=freeze | grep -i '^setuptools='")
    assert type_line(child, "echo $PIP_CONSTRAINT").strip() == "/wheelhub/work/build-constraints.txt"
    exit_and_check_gone(child, docker_client)


def test_package_applies_its_recipe_and_shows_the_build_command(
        project: Path, docker_client: Any) -> None:
    child = spawn(project, "--python", "cp311", "--package", "whfix_pure")
    header = str(child.before)
    assert "builds whfix-pure with (in /project; also $WHEELHUB_COMMAND):" in header
    assert re.search(r"python -m pip wheel .*--find-links /wheelhub/wheelhouse .*whfix-pure==1\.0",
                     header)
    assert type_line(child, "echo $WHFIX_RECIPE_VAR $WHFIX_HOOK_FLAG").strip() == \
        "from-recipe from-hook"
    output = type_line(child, '(cd /project && eval "$WHEELHUB_COMMAND"); echo status=$?')
    assert "Saved /wheelhub/work/out/whfix-pure/whfix_pure-1.0-py3-none-any.whl" in output
    assert output.strip().endswith("status=0")
    exit_and_check_gone(child, docker_client)


def test_failed_reopens_the_failing_build(project: Path, docker_client: Any) -> None:
    manifest = Manifest.load(project / "wheelhouse")
    child = spawn(project, "--failed")
    header = str(child.before)
    assert "whfix-broken [cp311] failed: pip wheel exited with status 1" in header
    assert "the command that failed (in /project" in header
    assert re.search(r"pip wheel .*whfix-broken==1\.0", header)
    (container,) = build_containers(docker_client, child)
    assert container.image.id == manifest.image_id  # the image the build used, by digest
    output = type_line(child, '(cd /project && eval "$WHEELHUB_COMMAND"); echo status=$?')
    assert "fails to build on purpose" in output
    assert output.strip().endswith("status=1")
    exit_and_check_gone(child, docker_client)


def test_unknown_package_is_refused_before_any_container(
        project: Path, docker_client: Any) -> None:
    child = pexpect.spawn(WHEELHUB, ["shell", *COMMON, "--package", "whfix-pur"],
                          cwd=str(project), encoding="utf-8", timeout=60)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert "error: --package 'whfix-pur' is not in the requirements" in str(child.before)
    assert "did you mean 'whfix-pure'?" in str(child.before)
    assert build_containers(docker_client, child) == []


def test_closing_the_terminal_removes_the_container(project: Path, docker_client: Any) -> None:
    child = spawn(project, "--python", "cp311")
    assert len(build_containers(docker_client, child)) == 1
    child.kill(signal.SIGHUP)  # as when the terminal window closes
    child.expect(pexpect.EOF)
    child.close()
    assert child.signalstatus is None and child.exitstatus == 128 + signal.SIGHUP
    assert build_containers(docker_client, child) == []
