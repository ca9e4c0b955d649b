"""Faults a CI system or a bad day brings, against real Docker: a cancelled job (SIGINT,
SIGTERM, SIGHUP), ``kill -9`` then a re-run, a full wheelhouse disk, an OOM-killed
compile. Each is checked the way a user would: containers left behind, good wheels
lost, the manifest consistent with the files, one clear line instead of a traceback,
and a re-run that builds exactly what did not finish.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BUILDER_IMAGE, make_sdist
from tests.verify.test_verify_docker import HOOK, WHEELHUB

pytestmark = [pytest.mark.docker, pytest.mark.slow]

# The verify tier's hook (no per-run nonce): its prepared snapshot is reused here.
PACKAGES = ("whfix-clib", "whfix-pure", "whfix-dependent", "whfix-optional")
# A compiler that needs 800 MB first, as a huge translation unit would.
HUNGRY_CC = """#!/bin/sh
/opt/python/cp311-cp311/bin/python -c "x = b'a' * (800 << 20)" && exec gcc "$@"
"""


def requirements(*names: str) -> str:
    return "--find-links ./dists\n" + "".join(f"{name}==1.0\n" for name in names)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[Path]:
    # The prepared snapshot stays: one image for this fixed hook, reused by every run (and
    # removing "images created since" would take other test runs' snapshots too).
    project = Path(tmp_path_factory.mktemp("faults"))
    (project / "dists").mkdir()
    for name in PACKAGES:
        make_sdist(name, project / "dists")
    (project / "requirements.txt").write_text(requirements(*PACKAGES))  # the C build first
    (project / "requirements-build.txt").write_text("setuptools>=68\n")
    (project / "build-setup.sh").write_text(HOOK)
    yield project


def argv(wheelhouse: Path, *extra: str) -> list[str]:
    return [WHEELHUB, "build", "--image", BUILDER_IMAGE, "--network", "host",
            "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "--python", "cp311",
            "-w", str(wheelhouse), *extra]


def build(project: Path, wheelhouse: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv(wheelhouse, *extra), cwd=project, capture_output=True,
                          text=True, timeout=600, check=False)


def start_and_wait_for_first_wheel(project: Path, wheelhouse: Path) -> subprocess.Popen[str]:
    """A build stopped mid-way: whfix-clib is in the wheelhouse, the rest still to come."""
    process = subprocess.Popen(argv(wheelhouse), cwd=project, stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True)
    assert process.stderr is not None
    deadline = time.monotonic() + 300
    for line in process.stderr:
        if "-> whfix_clib" in line or time.monotonic() > deadline:
            break
    return process


def containers_of(docker_client: Any, pid: int) -> list[Any]:
    found: list[Any] = docker_client.containers.list(
        all=True, filters={"label": f"org.wheelhub.pid={pid}"})
    return found


def entries(wheelhouse: Path) -> dict[str, dict[str, Any]]:
    manifest = json.loads((wheelhouse / "wheelhub-manifest.json").read_text())
    return {e["project"]: e for e in manifest["entries"]}


def assert_consistent(wheelhouse: Path, *, partial_files: bool = False) -> None:
    """Every wheel the manifest lists is on disk with its hash; no partial files (a SIGKILL
    mid-write may leave one: *partial_files*, and the next run removes it)."""
    for entry in entries(wheelhouse).values():
        for wheel in entry["wheels"]:
            data = (wheelhouse / wheel["filename"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == wheel["sha256"]
    if not partial_files:
        assert not [p.name for p in wheelhouse.iterdir() if p.name.endswith(".tmp")]


def assert_one_clear_line(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert len([line for line in stderr.splitlines() if line.startswith("error:")]) == 1


def assert_resumes(project: Path, wheelhouse: Path, unfinished: set[str]) -> None:
    again = build(project, wheelhouse)
    assert again.returncode == 0, again.stderr
    done = len(PACKAGES) - len(unfinished)
    assert f"{done} cached (0 remote), {len(unfinished)} to build" in again.stderr
    status = {name: entry["status"] for name, entry in entries(wheelhouse).items()}
    assert status == {name: "built" if name in unfinished else "cached" for name in PACKAGES}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_cancelled_job_removes_containers_and_keeps_honest_records(
        project: Path, docker_client: Any, tmp_path: Path, signum: signal.Signals) -> None:
    wheelhouse = tmp_path / "wh"
    process = start_and_wait_for_first_wheel(project, wheelhouse)
    sent = time.monotonic()
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    took = time.monotonic() - sent
    assert process.returncode == 128 + signum, stderr
    assert took < 15, f"{took:.1f}s from {signum.name} to exit"
    assert containers_of(docker_client, process.pid) == []
    assert_one_clear_line(stderr)
    assert f"error: interrupted ({signum.name}) after " in stderr
    recorded = entries(wheelhouse)
    assert recorded["whfix-clib"]["status"] == "built"
    unfinished = {name for name, entry in recorded.items() if entry["status"] != "built"}
    assert unfinished and {recorded[n]["status"] for n in unfinished} == {"interrupted"}
    assert all("exited with status" not in recorded[n]["error"] for n in unfinished)
    assert f"after {len(PACKAGES) - len(unfinished)} of {len(PACKAGES)} entries" in stderr
    assert_consistent(wheelhouse)
    assert_resumes(project, wheelhouse, unfinished)


def test_kill_9_leaves_containers_that_the_next_run_removes(
        project: Path, docker_client: Any, tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wh"
    process = start_and_wait_for_first_wheel(project, wheelhouse)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the record follows the log line
        manifest = wheelhouse / "wheelhub-manifest.json"
        if manifest.exists() and entries(wheelhouse).get("whfix-clib", {}).get("status"):
            break
        time.sleep(0.1)
    process.kill()
    process.communicate(timeout=60)
    assert containers_of(docker_client, process.pid) != []  # nothing can clean up a SIGKILL
    assert_consistent(wheelhouse, partial_files=True)
    built = {n for n, e in entries(wheelhouse).items() if e["status"] == "built"}
    assert "whfix-clib" in built
    again = build(project, wheelhouse)
    assert again.returncode == 0, again.stderr
    assert "container(s) left behind by wheelhub runs that are gone" in again.stderr
    assert containers_of(docker_client, process.pid) == []
    status = {name: entry["status"] for name, entry in entries(wheelhouse).items()}
    assert status == {name: "cached" if name in built else "built" for name in PACKAGES}
    assert_consistent(wheelhouse)  # the next run removed any partial file the kill left


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_wheelhouse_disk_is_one_clear_error_and_keeps_finished_wheels(
        project: Path, tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    # Room for the pure wheels, logs, manifest and reports; not for the C wheel (~60 KiB).
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=56k", "tmpfs", str(small)], check=True)
    try:
        (project / "small-last.txt").write_text(requirements(*PACKAGES[1:], PACKAGES[0]))
        wheelhouse = small / "wh"
        result = build(project, wheelhouse, "-r", "small-last.txt")
        assert result.returncode == 1, result.stderr
        assert_one_clear_line(result.stderr)
        assert f"error: no space left on device writing {wheelhouse}/whfix_clib-" in result.stderr
        assert "the partial file was removed" in result.stderr
        assert not list(wheelhouse.glob("whfix_clib*"))
        recorded = entries(wheelhouse)
        assert {n: e["status"] for n, e in recorded.items()} == {
            "whfix-pure": "built", "whfix-dependent": "built", "whfix-optional": "built",
            "whfix-clib": "interrupted"}
        assert_consistent(wheelhouse)
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_an_oom_killed_compile_is_named_with_a_hint(project: Path, tmp_path: Path) -> None:
    (project / "hungry-cc.sh").write_text(HUNGRY_CC)
    (project / "hungry-cc.sh").chmod(0o755)
    config = tmp_path / "wheelhub.yaml"
    config.write_text("recipes:\n  whfix-clib:\n    env: {CC: /project/hungry-cc.sh}\n")
    (project / "two.txt").write_text(requirements("whfix-pure", "whfix-clib"))
    wheelhouse = tmp_path / "wh"
    # A cold pip cache, so the C extension really is compiled (not taken from pip's cache).
    result = build(project, wheelhouse, "-r", "two.txt", "--config", str(config),
                   "--memory", "256M", "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 1, result.stderr
    assert "whfix-clib [cp311]: uv build killed (out of memory?)" in result.stderr
    assert "raise --memory (now 256M)" in result.stderr
    recorded = entries(wheelhouse)
    assert recorded["whfix-pure"]["status"] == "built"
    assert recorded["whfix-clib"]["status"] == "failed"
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)


class DaemonProxy:
    """The Docker socket as wheelhub sees it (DOCKER_HOST); cut() makes the daemon vanish
    for that client mid-build, without stopping the dockerd other work here shares."""

    def __init__(self, path: Path, upstream: str = "/var/run/docker.sock") -> None:
        import socket
        import threading

        self.upstream = upstream
        self.connections: list[socket.socket] = []
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.upstream)
            self.connections += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: Any, target: Any) -> None:
        import contextlib
        import socket

        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        import contextlib
        import socket

        self.server.close()
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
                connection.close()


def test_a_lost_daemon_fails_its_prefix_clearly_and_the_next_run_resumes(
        project: Path, docker_client: Any, tmp_path: Path) -> None:
    proxy = DaemonProxy(tmp_path / "docker.sock")
    wheelhouse = tmp_path / "wh"
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path / 'docker.sock'}"}
    process = subprocess.Popen(argv(wheelhouse), cwd=project, stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True, env=env)
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "-> whfix_clib" in line:
            break
    time.sleep(0.5)  # let the entry be recorded
    proxy.cut()
    _, rest = process.communicate(timeout=120)
    stderr = "".join(seen) + rest
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert "cp311: lost the container while" in stderr
    assert "was the Docker daemon stopped or restarted?" in stderr
    assert_consistent(wheelhouse)
    recorded = entries(wheelhouse)
    assert recorded["whfix-clib"]["status"] == "built"
    unfinished = {name for name, entry in recorded.items() if entry["status"] != "built"}
    assert {recorded[n]["status"] for n in unfinished} == {"interrupted"}
    again = build(project, wheelhouse)  # the daemon "back": the real socket
    assert again.returncode == 0, again.stderr
    assert "container(s) left behind by wheelhub runs that are gone" in again.stderr
    assert containers_of(docker_client, process.pid) == []
    status = {name: entry["status"] for name, entry in entries(wheelhouse).items()}
    assert status == {name: "built" if name in unfinished else "cached" for name in PACKAGES}
