"""Builds inside one prefix in parallel, for real (Docker, the default frontend, cp311).

The same project is built serially (``--jobs 1``) and in parallel (``--jobs 3``) into
two wheelhouses; a user compares what came out, reads the per-package logs, and sees a
dependent wait for its dependency once the dependency graph is known.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BUILDER_IMAGE, make_sdist
from tests.support.images import remove_prepared_since

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WHEELHUB = str(Path(sys.executable).with_name("wheelhub"))
PACKAGES = ("whfix-optional", "whfix-pure", "whfix-dependent", "whfix-broken")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[Path]:
    started = time.time()
    project = Path(tmp_path_factory.mktemp("parallel")) / "project"
    (project / "dists").mkdir(parents=True)
    for name in PACKAGES:
        make_sdist(name, project / "dists")
    (project / "requirements.txt").write_text(
        "--find-links ./dists\n" + "".join(f"{name}==1.0\n" for name in PACKAGES))
    yield project
    remove_prepared_since(docker_client, started)


def build(project: Path, wheelhouse: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WHEELHUB, "build", "--image", BUILDER_IMAGE, "--network", "host",
                           "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "--setup", "",
                           "--python", "cp311", "-w", wheelhouse, *args],
                          cwd=project, capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="module")
def serial(project: Path) -> subprocess.CompletedProcess[str]:
    return build(project, "serial", "--jobs", "1")


@pytest.fixture(scope="module")
def parallel(project: Path, serial: subprocess.CompletedProcess[str]) -> \
        subprocess.CompletedProcess[str]:
    return build(project, "parallel", "--jobs", "3")


def report(wheelhouse: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((wheelhouse / "report.json").read_text())
    return data


def test_parallel_builds_the_same_wheels_as_serial(
        project: Path, serial: subprocess.CompletedProcess[str],
        parallel: subprocess.CompletedProcess[str]) -> None:
    def names(wheelhouse: str) -> list[str]:
        return sorted(p.name for p in (project / wheelhouse).glob("*.whl"))

    assert names("parallel") == names("serial")
    assert {n.split("-")[0] for n in names("parallel")} == {
        "whfix_optional", "whfix_pure", "whfix_dependent"}


def test_a_failing_package_in_a_parallel_batch_fails_alone(
        project: Path, parallel: subprocess.CompletedProcess[str]) -> None:
    assert parallel.returncode == 1, parallel.stderr
    statuses = {e["project"]: e["status"] for e in report(project / "parallel")["entries"]}
    assert statuses == {"whfix-broken": "failed", "whfix-optional": "built",
                        "whfix-pure": "built", "whfix-dependent": "built"}


def test_each_log_holds_only_its_own_package(
        project: Path, parallel: subprocess.CompletedProcess[str]) -> None:
    logs = project / "parallel" / "logs" / "cp311"
    for name in PACKAGES:
        text = (logs / f"{name}.log").read_text()
        commands = build_commands(text)
        # uv build of the sdist, then (whfix-dependent) pip wheel for the closure
        assert commands and all(name in c for c in commands), text
        others = {other.replace("-", "_") for other in PACKAGES} - {
            name.replace("-", "_"), "whfix_pure"}  # the dependent's log names its dependency
        assert not [o for o in others if o in text], (name, text)
    assert "fails to build on purpose" in (logs / "whfix-broken.log").read_text()


def test_phases_and_the_cpu_floor_are_reported(
        project: Path, parallel: subprocess.CompletedProcess[str]) -> None:
    phases = report(project / "parallel")["phases"]
    assert "image start" in phases["prefixes"]["cp311"]  # ca, hook: unless a snapshot had them
    assert phases["entries"]["whfix-pure cp311"]["build"] > 0  # uv build, the default's
    assert phases["entries"]["whfix-dependent cp311"]["pip wheel"] > 0  # and its closure
    assert phases["entries"]["whfix-optional cp311"]["build"] > 0
    assert phases["cpu_seconds"]["cp311"] > 0
    assert 0 < phases["floor_seconds"] <= phases["cpu_seconds"]["cp311"]


def test_a_dependent_builds_after_its_dependency_and_against_it(
        project: Path, parallel: subprocess.CompletedProcess[str]) -> None:
    # The first run recorded whfix-dependent's closure; a forced rebuild orders by it.
    again = build(project, "parallel", "--jobs", "3", "--force")
    assert again.returncode == 1, again.stderr
    out = again.stderr + again.stdout
    assert out.index("-> whfix_pure-1.0") < out.index("building whfix-dependent==1.0"), out
    log = (project / "parallel" / "logs" / "cp311" / "whfix-dependent.log").read_text()
    assert "whfix_pure-1.0-py3-none-any.whl" in log
    assert "Building wheel for whfix-pure" not in log, log


def built_with(project: Path, frontend: str) -> tuple[str, dict[str, Any]]:
    """Build with *frontend*; check the wheels are the serial (default frontend) run's; the
    whfix-pure log, and the report's phases."""
    wheelhouse = frontend.replace("[", "-").rstrip("]")
    result = build(project, wheelhouse, "--jobs", "2", "--frontend", frontend)
    assert result.returncode == 1, result.stderr
    made = sorted(p.name for p in (project / wheelhouse).glob("*.whl"))
    assert made == sorted(p.name for p in (project / "serial").glob("*.whl"))
    log = (project / wheelhouse / "logs" / "cp311" / "whfix-pure.log").read_text()
    return log, report(project / wheelhouse)["phases"]


def test_the_build_uv_frontend_builds_the_same_wheels(
        project: Path, serial: subprocess.CompletedProcess[str]) -> None:
    log, phases = built_with(project, "build[uv]")
    assert "--installer uv" in log
    # The sdist came from the host, fetched once: no pip download in the container.
    assert "sdist fetched once on the host for every Python: sdists/" in log, log
    assert "pip download" not in log
    assert {"download", "build"} <= set(phases["entries"]["whfix-pure cp311"])


def test_the_pip_frontend_builds_the_same_wheels_with_pip_alone(
        project: Path, serial: subprocess.CompletedProcess[str]) -> None:
    log, _phases = built_with(project, "pip")
    assert build_commands(log) == [line for line in log.splitlines() if " pip wheel " in line]
    assert " -m build " not in log and "sdists/" not in log


def test_auto_takes_a_wheel_where_pip_would(project: Path) -> None:
    """A requirement with a wheel for the Python is pip's to take, not built from source."""
    wheels = project / "prebuilt"
    wheels.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w",
                    str(wheels), str(project / "dists" / "whfix-pure-1.0.tar.gz")],
                   check=True, capture_output=True)
    (project / "prebuilt.txt").write_text(
        "--find-links ./prebuilt\n--find-links ./dists\nwhfix-pure==1.0\nwhfix-optional==1.0\n")
    result = build(project, "prebuilt-out", "-r", "prebuilt.txt")
    assert result.returncode == 0, result.stderr
    logs = project / "prebuilt-out" / "logs" / "cp311"
    taken = (logs / "whfix-pure.log").read_text()
    assert " pip wheel " in taken and "uv build " not in taken, taken
    assert "whfix_pure-1.0-py3-none-any.whl" in taken
    assert "/uv build " in (logs / "whfix-optional.log").read_text()  # no wheel: built


def test_auto_leaves_a_build_to_pip_when_the_hook_sets_pip(project: Path) -> None:
    """pip settings a hook exports (PIP_*) are pip's to honour, and uv reads none of them."""
    (project / "pip-hook.sh").write_text("export PIP_DEFAULT_TIMEOUT=90\n")
    (project / "pip-hook.txt").write_text("--find-links ./dists\nwhfix-optional==1.0\n")
    result = subprocess.run([WHEELHUB, "build", "--image", BUILDER_IMAGE, "--network", "host",
                             "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt",
                             "--setup", "pip-hook.sh", "--python", "cp311", "-w", "pip-hook",
                             "-r", "pip-hook.txt"],
                            cwd=project, capture_output=True, text=True, timeout=900,
                            check=False)
    assert result.returncode == 0, result.stderr
    log = (project / "pip-hook" / "logs" / "cp311" / "whfix-optional.log").read_text()
    assert " pip wheel " in log and "uv build" not in log, log


def test_build_requirements_uv_refuses_are_left_to_pip(project: Path) -> None:
    """A requirements-build.txt pip accepts but uv does not (pip warns about a missing
    --find-links directory, uv stops): pip installs it, as it would without uv."""
    (project / "odd-build.txt").write_text("--find-links ./not-there\nsetuptools>=68\n")
    (project / "odd.txt").write_text("--find-links ./dists\nwhfix-pure==1.0\n")
    result = build(project, "odd", "-r", "odd.txt", "-b", "odd-build.txt")
    assert result.returncode == 0, result.stderr
    log = (project / "odd" / "logs" / "cp311" / "_setup.log").read_text()
    assert "uv pip install --python /opt/python/cp311-cp311/bin/python -r" in log, log
    assert "uv could not install them (above): pip installs them" in log, log
    assert re.search(r"python -m pip install -r \S+/odd-build.txt", log), log


def test_an_unknown_frontend_is_refused_before_any_container(project: Path) -> None:
    result = build(project, "never", "--frontend", "poetry")
    assert result.returncode != 0
    assert "--frontend: invalid choice: 'poetry'" in result.stderr
    assert "build[uv]" in result.stderr
    assert not (project / "never").exists()


def test_pure_wheels_are_built_once_for_every_python(project: Path) -> None:
    result = build(project, "two", "--jobs", "2", "--python", "cp311,cp312")
    assert result.returncode == 1, result.stderr
    entries = {(e["project"], e["python"]): e for e in report(project / "two")["entries"]}
    for name in ("whfix-pure", "whfix-dependent"):
        first, second = entries[(name, "cp311")], entries[(name, "cp312")]
        assert first["status"] == second["status"] == "built"
        assert [w["filename"] for w in first["wheels"]] == [w["filename"] for w in second["wheels"]]
        built = [tag for tag in ("cp311", "cp312")
                 if build_commands(_read(project / "two" / "logs" / tag / f"{name}.log"))]
        assert len(built) == 1, (name, built)
        other = "cp312" if built == ["cp311"] else "cp311"
        assert f"the pure wheels built for {built[0]} serve {other} too" in result.stderr
    # A compiled or failing package is still built (or fails) for each Python.
    assert entries[("whfix-broken", "cp311")]["status"] == "failed"
    assert entries[("whfix-broken", "cp312")]["status"] == "failed"


def test_a_dependency_range_moved_leaves_the_closure_to_pip_with_the_wheel_as_is(
        project: Path) -> None:
    """Not pinned with ==, the dependency is pip's to resolve: pip makes the closure in the
    container, taking the dependent's own wheel (its inputs unchanged) as the file it is."""
    dists = project / "dists-range"
    dists.mkdir(exist_ok=True)
    for name, version in (("whfix-pure", "1.0"), ("whfix-pure", "1.1"),
                          ("whfix-dependent", "1.0")):
        make_sdist(name, dists, version=version)
    ranged = project / "ranged.txt"
    ranged.write_text("--find-links ./dists-range\nwhfix-pure>=1.0,<1.1\nwhfix-dependent==1.0\n")
    first = build(project, "ranged", "-r", "ranged.txt")
    assert first.returncode == 0, first.stderr
    own = project / "ranged" / "whfix_dependent-1.0-py3-none-any.whl"
    before = own.read_bytes()
    ranged.write_text("--find-links ./dists-range\nwhfix-pure>=1.1\nwhfix-dependent==1.0\n")
    moved = build(project, "ranged", "-r", "ranged.txt")
    assert moved.returncode == 0, moved.stderr
    assert ("whfix-dependent==1.0: its own wheel stands; pip makes its closure, as its "
            "dependency whfix-pure is not pinned with == in the requirements") in moved.stderr
    log = (project / "ranged" / "logs" / "cp311" / "whfix-dependent.log").read_text()
    commands = build_commands(log)
    assert len(commands) == 1, log
    assert "whfix-dependent @ file:///wheelhub/wheelhouse/whfix_dependent-1.0-py3-none-any.whl" in (
        commands[0]), log
    assert "uv build" not in log, log
    assert own.read_bytes() == before
    entry = next(e for e in report(project / "ranged")["entries"]
                 if e["project"] == "whfix-dependent")
    assert sorted(w["filename"] for w in entry["wheels"]) == [
        "whfix_dependent-1.0-py3-none-any.whl", "whfix_pure-1.1-py3-none-any.whl"]


def build_commands(log: str) -> list[str]:
    """The build commands a log shows being run: pip wheel, or pypa/build."""
    return [line for line in log.splitlines()
            if line.startswith("+ ") and re.search(r"( pip wheel | -m build |/uv build )", line)]


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""
