"""Container specs without Docker: what a build or test container mounts, and the engine choice."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from wheelhub.engines import container_engine, make_engine
from wheelhub.engines.container import ContainerEngine
from wheelhub.engines.host import HostEngine
from wheelhub.engines.spec import DOCKER, exec_argv
from wheelhub.options import BuildOptions


@pytest.fixture
def options(tmp_path: Path) -> BuildOptions:
    return BuildOptions(project_dir=tmp_path, requirements=tmp_path / "requirements.txt",
                        build_requirements=None, setup=None, python="all", image="builder:1",
                        engine="docker", jobs=2, wheelhouse=tmp_path / "wheelhouse", network=None,
                        ca_bundle=None, cache_dir=tmp_path / "cache")


def mounts(args: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """The bind mounts: host source and read-only flag by target."""
    return {m["Target"]: (m["Source"], m["ReadOnly"]) for m in args["mounts"]
            if m["Type"] == "bind"}


def test_build_container_sees_inputs_read_only_and_a_writable_cache(
        options: BuildOptions, tmp_path: Path) -> None:
    engine = ContainerEngine(options, DOCKER)
    spec = engine.spec("builder:1", "cp311")
    args = spec.create_args("wheelhub-cp311-0123abcd")
    assert mounts(args) == {"/project": (str(tmp_path), True),
                            "/wheelhub/wheelhouse": (str(tmp_path / "wheelhouse"), True),
                            "/wheelhub/cache": (str(tmp_path / "cache"), False)}
    assert args["labels"] == {"org.wheelhub.build.run": "cp311", "org.wheelhub.kind": "build",
                              "org.wheelhub.keep": "0"}
    assert "mem_limit" not in args  # no --memory: the engine's default (no limit)
    assert args["name"] == "wheelhub-cp311-0123abcd"
    assert args["image"] == "builder:1" and args["working_dir"] == "/wheelhub/work"
    # The workspace is a volume of its own: a snapshot committed during builds holds none of it.
    assert {"Target": "/wheelhub/work", "Type": "volume"} in args["mounts"]
    assert "network_mode" not in args  # the engine's default network
    assert spec.hand_back == ("/wheelhub/cache",) and not spec.keep
    assert engine.paths.ca_bundle is None


def test_ca_bundle_network_and_keep_reach_the_build_container(
        options: BuildOptions, tmp_path: Path) -> None:
    bundle = tmp_path / "proxy.crt"
    options = replace(options, ca_bundle=bundle, network="host", keep_container=True)
    engine = ContainerEngine(options, DOCKER)
    spec = engine.spec("builder:1", "cp311")
    args = spec.create_args("x")
    assert mounts(args)["/wheelhub/ca-bundle.crt"] == (str(bundle), True)
    assert engine.paths.ca_bundle == "/wheelhub/ca-bundle.crt"
    assert args["network_mode"] == "host"
    assert spec.keep


def test_engine_choice_is_data(options: BuildOptions) -> None:
    engine = make_engine(options)
    assert isinstance(engine, ContainerEngine) and engine.oci.cli == "docker"
    host = replace(options, engine="host")
    assert isinstance(make_engine(host), HostEngine)
    assert container_engine(host) is None


def test_podman_is_an_engine_row(options: BuildOptions) -> None:
    from wheelhub.engines.spec import OCI_ENGINES, PODMAN
    from wheelhub.options import ENGINES

    assert set(ENGINES) == {*OCI_ENGINES, "host"}  # what --engine accepts, and what runs it
    engine = make_engine(replace(options, engine="podman"))
    assert isinstance(engine, ContainerEngine) and engine.oci is PODMAN
    assert PODMAN.url({}) == "unix:///run/podman/podman.sock"
    assert PODMAN.url({"CONTAINER_HOST": "unix:///tmp/p.sock"}) == "unix:///tmp/p.sock"
    assert DOCKER.url({"CONTAINER_HOST": "unix:///tmp/p.sock"}) is None  # DOCKER_HOST's


def test_an_absent_engine_is_one_clear_error(tmp_path: Path) -> None:
    """--engine podman where no podman service listens: one error naming the socket and
    the script that starts it; nothing started."""
    import os
    import subprocess
    import sys

    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    wheelhub = str(Path(sys.executable).with_name("wheelhub"))
    done = subprocess.run([wheelhub, "build", "--engine", "podman"], cwd=tmp_path,
                          env={**os.environ, "CONTAINER_HOST": f"unix://{tmp_path}/none.sock"},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: cannot reach the podman service (unix://{tmp_path}/none.sock")
    assert lines[1].startswith("hint: install and start podman's API service "
                               "(scripts/ensure-podman.sh")
    assert not (tmp_path / "wheelhouse" / "wheelhub-manifest.json").exists()


def test_exec_argv_keeps_values_off_the_command_line() -> None:
    argv = exec_argv("/usr/bin/docker", "abc", workdir="/wheelhub/work",
                     env={"TOKEN": "s3cret", "A": "1"}, command=("bash", "--norc", "-i"))
    assert argv == ["/usr/bin/docker", "exec", "-it", "-w", "/wheelhub/work", "-e", "A",
                    "-e", "TOKEN", "abc", "bash", "--norc", "-i"]
    assert "s3cret" not in " ".join(argv)
