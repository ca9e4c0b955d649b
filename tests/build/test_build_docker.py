"""The build engine for real: Docker containers, pip, auditwheel, a runtime image.

One project is built cold as a non-root user, then inspected the way a user would:
tags, vendored libraries, imports in a runtime image without the library, file
ownership, continue-on-error, a no-op re-run and a one-pin change.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BUILDER_IMAGE, RUNTIME_IMAGE, make_sdist
from tests.support.images import prepared_since, remove_prepared_since

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WHEELHUB = str(Path(sys.executable).with_name("wheelhub"))
TEST_USER = "wheelhub-test"
HOOK = """\
# Installs the system library whfix-clib links against; exports a flag every build sees.
if ! [ -f /usr/include/yaml.h ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libyaml-dev >/dev/null
fi
export WHFIX_HOOK_FLAG=from-hook
"""
REQUIREMENTS = """\
--find-links ./dists
whfix-clib==1.0
whfix-optional==1.0   # C speedups fail to build: falls back to pure Python
whfix-pure==1.0
whfix-dependent==1.0  # depends on whfix-pure
whfix-broken==1.0     # fails on purpose
"""


@dataclass
class User:
    name: str | None
    uid: int
    gid: int
    home: Path


@pytest.fixture(scope="module")
def user() -> User:
    """A non-root user, so ownership of outputs means something."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return User(None, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))
    try:
        entry = pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", TEST_USER], check=True)
        entry = pwd.getpwnam(TEST_USER)
    return User(TEST_USER, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))


def run_wheelhub(user: User, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [WHEELHUB, "build", "--image", BUILDER_IMAGE, "--network", "host",
            "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt", *args]
    env = {"PATH": os.environ["PATH"], "HOME": str(user.home), "LANG": "C.UTF-8"}
    if user.name is not None:
        # As `sudo wheelhub build` runs it: root, with the invoking user in SUDO_UID/GID.
        # (The interpreter lives under /root here, so the user cannot run it directly.)
        env.update({"SUDO_UID": str(user.uid), "SUDO_GID": str(user.gid), "SUDO_USER": user.name})
    return subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True,
                          timeout=900, check=False)


@pytest.fixture(scope="module")
def project(user: User, tmp_path_factory: pytest.TempPathFactory,
            docker_client: Any) -> Iterator[Path]:
    started = time.time()
    base = Path(tmp_path_factory.mktemp("build"))
    base.chmod(0o755)
    project = base / "project"
    (project / "dists").mkdir(parents=True)
    for name in ("whfix-clib", "whfix-optional", "whfix-pure", "whfix-dependent", "whfix-broken"):
        make_sdist(name, project / "dists")
    make_sdist("whfix-pure", project / "dists", version="1.1")
    (project / "requirements.txt").write_text(REQUIREMENTS)
    (project / "requirements-build.txt").write_text("setuptools>=68\n")
    # A hook unique to this run, so the first build really is cold (no prepared snapshot).
    (project / "build-setup.sh").write_text(HOOK + f"# run {uuid.uuid4().hex}\n")
    for path in [project, *project.rglob("*")]:
        os.chown(path, user.uid, user.gid)
    yield project
    shutil.rmtree(base, ignore_errors=True)
    remove_prepared_since(docker_client, started)



@pytest.fixture(scope="module")
def cold_started() -> float:
    return time.time()


@pytest.fixture(scope="module")
def cold(user: User, project: Path, cold_started: float) -> subprocess.CompletedProcess[str]:
    return run_wheelhub(user, project)


def report(project: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((project / "wheelhouse" / "report.json").read_text())
    return data


def statuses(project: Path) -> dict[tuple[str, str], str]:
    return {(e["project"], e["python"]): e["status"] for e in report(project)["entries"]}


def wheels(project: Path) -> list[str]:
    return sorted(p.name for p in (project / "wheelhouse").glob("*.whl"))


def test_cold_build_keeps_good_wheels_and_names_the_failure(
        cold: subprocess.CompletedProcess[str], project: Path) -> None:
    assert cold.returncode == 1, cold.stderr
    assert "whfix-broken [cp311]: uv build exited with status 2" in cold.stderr
    assert "fails to build on purpose" in cold.stderr  # the tail of its log
    assert "3 built" not in cold.stdout  # counts come from the table line below
    assert "8 built, 0 cached, 2 failed" in cold.stdout
    names = wheels(project)
    assert not any(n.startswith("whfix_broken") for n in names)
    assert {n.split("-")[0] for n in names} == {
        "whfix_clib", "whfix_optional", "whfix_pure", "whfix_dependent"}
    log = project / "wheelhouse" / "logs" / "cp311" / "whfix-broken.log"
    assert "fails to build on purpose" in log.read_text()


def test_c_extension_is_repaired_with_the_library_vendored(
        cold: subprocess.CompletedProcess[str], project: Path) -> None:
    clib = [n for n in wheels(project) if n.startswith("whfix_clib")]
    assert sorted(n.split("-")[2] for n in clib) == ["cp311", "cp312"]
    for name in clib:
        assert "manylinux_2_36_x86_64" in name and "linux_x86_64.whl" not in name.replace(
            "manylinux", "")
        with zipfile.ZipFile(project / "wheelhouse" / name) as archive:
            vendored = [n for n in archive.namelist() if n.startswith("whfix_clib.libs/")]
        assert any("libyaml" in n for n in vendored)
    entry = next(e for e in report(project)["entries"] if e["project"] == "whfix-clib")
    assert any("libyaml" in lib for lib in entry["wheels"][0]["vendored"])


def test_auto_installs_the_build_requirements_with_uv(
        cold: subprocess.CompletedProcess[str], project: Path) -> None:
    for python in ("cp311", "cp312"):
        log = (project / "wheelhouse" / "logs" / python / "_setup.log").read_text()
        install = [line for line in log.splitlines() if " pip install " in line]
        assert len(install) == 1, log
        assert re.search(rf"/uv pip install --python /opt/python/{python}-{python}/bin/python "
                         r"-r /project/requirements-build.txt$", install[0]), install
        assert "setuptools" in log  # what uv installed, in its words


def test_optional_extension_falls_back_to_a_pure_wheel(
        cold: subprocess.CompletedProcess[str], project: Path) -> None:
    optional = [n for n in wheels(project) if n.startswith("whfix_optional")]
    assert optional == ["whfix_optional-1.0-py3-none-any.whl"]


def test_pure_wheel_is_shared_not_duplicated(
        cold: subprocess.CompletedProcess[str], project: Path) -> None:
    pure = [n for n in wheels(project) if n.startswith("whfix_pure")]
    assert pure == ["whfix_pure-1.0-py3-none-any.whl"]
    manifest = json.loads((project / "wheelhouse" / "wheelhub-manifest.json").read_text())
    hashes = {w["sha256"] for e in manifest["entries"] for w in e["wheels"]
              if w["filename"] == pure[0]}
    assert len(hashes) == 1
    assert hashes == {__import__("hashlib").sha256(
        (project / "wheelhouse" / pure[0]).read_bytes()).hexdigest()}


def test_wheels_install_and_import_in_a_runtime_image_without_the_library(
        cold: subprocess.CompletedProcess[str], project: Path, docker_client: Any) -> None:
    script = (
        "set -e; ! ls /usr/lib/x86_64-linux-gnu/libyaml* 2>/dev/null; "
        "for py in /opt/python/cp311-cp311 /opt/python/cp312-cp312; do "
        "$py/bin/python -m venv /tmp/v$$; "
        "/tmp/v$$/bin/pip install -q --no-index --find-links /wh "
        "whfix-clib whfix-optional whfix-dependent; "
        "/tmp/v$$/bin/python -c 'import whfix_clib, whfix_dependent, whfix_optional; "
        "print(whfix_clib.libyaml_version(), whfix_clib.hook_flag(), "
        "whfix_dependent.welcome(), whfix_optional.SPEEDUPS)'; rm -rf /tmp/v$$; done")
    output = docker_client.containers.run(
        RUNTIME_IMAGE, ["bash", "-c", script], remove=True, network_mode="none",
        volumes={str(project / "wheelhouse"): {"bind": "/wh", "mode": "ro"}})
    lines = output.decode().split("\n")
    results = [line for line in lines if "HELLO DEPENDENT" in line]
    assert len(results) == 2
    for line in results:
        version, flag, *_welcome, speedups = line.split(" ")
        assert version.startswith("0.2.")
        assert flag == "from-hook"  # the hook's export reached the build
        assert speedups == "False"


def test_outputs_belong_to_the_invoking_user(
        cold: subprocess.CompletedProcess[str], project: Path, user: User) -> None:
    paths = [project / "wheelhouse", *(project / "wheelhouse").rglob("*")]
    cache = user.home / ".cache" / "wheelhub"
    paths += [cache, *cache.rglob("*")]
    wrong = [str(p) for p in paths if p.lstat().st_uid != user.uid]
    assert wrong == []
    assert any(p.name.endswith(".whl") for p in paths)


def test_rerun_without_the_failure_starts_no_container(
        cold: subprocess.CompletedProcess[str], project: Path, user: User) -> None:
    requirements = project / "requirements.txt"
    requirements.write_text(REQUIREMENTS.replace("whfix-broken==1.0     # fails on purpose\n", ""))
    before = {n: (project / "wheelhouse" / n).stat().st_mtime_ns for n in wheels(project)}
    warm = run_wheelhub(user, project)
    assert warm.returncode == 0, warm.stderr
    assert "0 to build in 0 container(s)" in warm.stderr
    assert set(statuses(project).values()) == {"cached"}
    assert {n: (project / "wheelhouse" / n).stat().st_mtime_ns for n in wheels(project)} == before


def test_the_snapshot_holds_the_hook_but_none_of_the_builds(
        cold: subprocess.CompletedProcess[str], cold_started: float, docker_client: Any) -> None:
    # Committed while the builds ran: their workspace (a volume) is not in it.
    snapshots = prepared_since(docker_client, cold_started)
    assert len(snapshots) == 2, [s.tags for s in snapshots]
    for snapshot in snapshots:
        seen = docker_client.containers.run(
            snapshot.id, ["sh", "-c", "ls -A /wheelhub/work; test -f /usr/include/yaml.h && "
                          "echo hook-applied"], entrypoint=[], remove=True, network_mode="none")
        assert seen.decode().split() == ["hook-applied"], snapshot.tags


def ccache_stats(cache: Path) -> dict[str, int]:
    """The statistics of the cache directory's ccache, read with the ccache the build used."""
    tool = next((cache / "tools").glob("ccache-*/ccache"))
    shown = subprocess.run([str(tool), "--print-stats"], capture_output=True, text=True,
                           check=True, env={"CCACHE_DIR": str(cache / "ccache")})
    return {k: int(v) for k, v in (line.split("\t") for line in shown.stdout.splitlines())}


def test_compiles_go_through_ccache_kept_in_the_cache_directory(
        cold: subprocess.CompletedProcess[str], project: Path, user: User) -> None:
    cache = user.home / ".cache" / "wheelhub"
    # Only compilers the image has stand behind ccache: a build probing for clang finds none.
    assert sorted(p.name for p in (cache / "tools").glob("ccache-*/bin-*/*")) == [
        "c++", "cc", "g++", "gcc"]
    (project / "clib.txt").write_text("--find-links ./dists\nwhfix-clib==1.0\n")
    before = ccache_stats(cache)
    # whfix-clib for cp311 again, in another wheelhouse: the cold run compiled these sources.
    again = run_wheelhub(user, project, "-r", "clib.txt", "-w", "clib-ccache", "--python", "cp311")
    assert again.returncode == 0, again.stderr
    after = ccache_stats(cache)
    hits = ("direct_cache_hit", "preprocessed_cache_hit")
    assert sum(after[k] for k in hits) > sum(before[k] for k in hits), (before, after)
    assert after["cache_miss"] == before["cache_miss"]
    assert {p.stat().st_uid for p in (cache / "ccache").rglob("*")} == {user.uid}
    # --no-ccache: the compiler runs as the image has it, and the cache is not asked.
    off = run_wheelhub(user, project, "-r", "clib.txt", "-w", "clib-plain", "--python", "cp311",
                       "--no-ccache")
    assert off.returncode == 0, off.stderr
    assert ccache_stats(cache) == after
    assert wheel_names(project / "clib-plain") == wheel_names(project / "clib-ccache")


def wheel_names(wheelhouse: Path) -> list[str]:
    return sorted(p.name for p in wheelhouse.glob("*.whl"))


def test_changing_one_pin_rebuilds_only_what_it_affects(
        cold: subprocess.CompletedProcess[str], project: Path, user: User) -> None:
    requirements = project / "requirements.txt"
    text = requirements.read_text().replace("whfix-broken==1.0     # fails on purpose\n", "")
    requirements.write_text(text.replace("whfix-pure==1.0", "whfix-pure==1.1"))
    own = project / "wheelhouse" / "whfix_dependent-1.0-py3-none-any.whl"
    before = (hashlib.sha256(own.read_bytes()).hexdigest(), own.stat().st_mtime_ns)
    planned = subprocess.run([WHEELHUB, "plan", "--image", BUILDER_IMAGE], cwd=project,
                             capture_output=True, text=True, check=False)
    assert planned.returncode == 0, planned.stderr
    assert re.search(r"whfix-dependent \[cp311\]\s+\w+\s+relink", planned.stdout), planned.stdout
    assert re.search(r"whfix-pure \[cp311\]\s+\w+\s+build", planned.stdout), planned.stdout
    changed = run_wheelhub(user, project)
    assert changed.returncode == 0, changed.stderr
    # The first run's prepared environment (hook, build requirements) was reused.
    assert changed.stderr.count("starting from the prepared snapshot") == 2
    status = statuses(project)
    for python in ("cp311", "cp312"):
        assert status[("whfix-pure", python)] == "built"
        assert status[("whfix-dependent", python)] == "built"  # its closure holds whfix-pure
        assert status[("whfix-clib", python)] == "cached"
        assert status[("whfix-optional", python)] == "cached"
    names = wheels(project)
    assert "whfix_pure-1.1-py3-none-any.whl" in names
    assert "whfix_pure-1.0-py3-none-any.whl" not in names  # stale wheel pruned
    # whfix-dependent's own inputs did not change: its wheel stands, untouched, and only
    # its closure moved to whfix-pure 1.1, on the host (no build command in its log).
    assert (hashlib.sha256(own.read_bytes()).hexdigest(), own.stat().st_mtime_ns) == before
    assert changed.stderr.count("whfix-dependent==1.0: its own wheel stands, closure relinked "
                                "to whfix_pure-1.1-py3-none-any.whl") == 2, changed.stderr
    for python in ("cp311", "cp312"):
        entry = next(e for e in report(project)["entries"]
                     if (e["project"], e["python"]) == ("whfix-dependent", python))
        assert [w["filename"] for w in entry["wheels"]] == [
            "whfix_dependent-1.0-py3-none-any.whl", "whfix_pure-1.1-py3-none-any.whl"]
        log = (project / "wheelhouse" / entry["log"]).read_text()
        assert "closure is relinked on the host to this run's whfix-pure 1.1" in log, log
        assert "pip wheel" not in log and "uv build" not in log, log
    assert "4 built (2 relinked), 4 cached" in changed.stdout
    assert re.search(r"whfix-dependent\s+relinked any\s+relinked any", changed.stdout)
    # The next run finds the relinked entries' keys: nothing to do.
    again = run_wheelhub(user, project)
    assert again.returncode == 0, again.stderr
    assert set(statuses(project).values()) == {"cached"}


def test_ctrl_c_removes_containers_and_keeps_a_consistent_manifest(
        project: Path, user: User, docker_client: Any, tmp_path: Path) -> None:
    argv = [WHEELHUB, "build", "--image", BUILDER_IMAGE, "--network", "host", "--force",
            "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt",
            "-w", str(tmp_path / "wh"), "--python", "cp311"]
    process = subprocess.Popen(argv, cwd=project, stderr=subprocess.PIPE, text=True,
                               stdout=subprocess.DEVNULL)
    assert process.stderr is not None
    deadline = time.monotonic() + 300
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "-> whfix_clib" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    assert process.returncode == 130, "".join(seen) + rest
    assert "interrupted" in rest
    # Its own containers (labelled with its pid): other builds may run on this daemon.
    leftovers = docker_client.containers.list(
        all=True, filters={"label": f"org.wheelhub.pid={process.pid}"})
    assert leftovers == []
    manifest = json.loads((tmp_path / "wh" / "wheelhub-manifest.json").read_text())
    kept = {w["filename"] for e in manifest["entries"] for w in e["wheels"]}
    assert kept and all((tmp_path / "wh" / name).exists() for name in kept)
    assert not list((tmp_path / "wh").glob(".*.tmp"))
