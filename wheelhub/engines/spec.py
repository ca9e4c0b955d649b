"""Containers as data: the container engine, and the spec of one container.

As in cibuildwheel's ``OCIContainerEngineConfig``, the engine is a value, not a code
path: Docker and podman are two :class:`OCIEngineConfig` in :data:`OCI_ENGINES`. Builds,
``wheelhub test`` and ``wheelhub shell`` describe their containers with one
:class:`ContainerSpec`, which :class:`wheelhub.engines.oci.Containers` starts.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, kw_only=True, slots=True)
class Ulimit:
    """A resource limit set on every container of an engine (``--ulimit name=soft:hard``)."""

    name: str
    soft: int
    hard: int


@dataclass(frozen=True, kw_only=True, slots=True)
class OCIEngineConfig:
    """A container engine with a Docker-compatible API, and its command-line client."""

    name: str  # as given to --engine
    cli: str  # the client, for the one thing the API has no terminal for: `exec -it`
    # Where the API listens; None: the Docker SDK's default (DOCKER_HOST, /var/run/docker.sock).
    base_url: str | None = None
    url_variable: str = ""  # an environment variable that overrides base_url
    # Limits every container gets: rootful podman's defaults exceed what a container may set
    # on some hosts ("error setting rlimits ... operation not permitted").
    ulimits: tuple[Ulimit, ...] = ()
    start_hint: str = ""  # how to get the engine running, for "cannot reach" errors

    def cli_path(self) -> str | None:
        """Where the command-line client is, or None when it is not installed."""
        return shutil.which(self.cli)

    def url(self, env: Mapping[str, str]) -> str | None:
        """The API's address: *url_variable* from *env* when set, else :attr:`base_url`."""
        return (env.get(self.url_variable) if self.url_variable else None) or self.base_url


# Every container wheelhub starts carries these, so a later run can tell whose it is.
RUN_LABEL = "org.wheelhub.run"  # a random id per wheelhub process
PID_LABEL = "org.wheelhub.pid"  # that process on its host ...
STARTED_LABEL = "org.wheelhub.pid-started"  # ... and its start time (pids are reused)
HOST_LABEL = "org.wheelhub.host"  # where that pid means something
KIND_LABEL = "org.wheelhub.kind"
KEEP_LABEL = "org.wheelhub.keep"

DOCKER = OCIEngineConfig(
    name="docker", cli="docker",
    start_hint="start it (scripts/ensure-docker.sh, or `sudo systemctl start docker`), or set "
    "DOCKER_HOST")
PODMAN = OCIEngineConfig(
    name="podman", cli="podman", base_url="unix:///run/podman/podman.sock",
    url_variable="CONTAINER_HOST",
    ulimits=(Ulimit(name="nofile", soft=4096, hard=4096),
             Ulimit(name="nproc", soft=4096, hard=4096)),
    start_hint="install and start podman's API service (scripts/ensure-podman.sh, or `podman "
    "system service --time=0 unix:///run/podman/podman.sock`), or set CONTAINER_HOST; its image "
    "store is its own: `docker save IMAGE | podman load`")
OCI_ENGINES: Mapping[str, OCIEngineConfig] = {e.name: e for e in (DOCKER, PODMAN)}


@dataclass(frozen=True, kw_only=True, slots=True)
class Mount:
    """A host directory or file bind-mounted into the container."""

    source: Path
    target: str
    read_only: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class ContainerSpec:
    """One container: ``sleep infinity`` as its main process, commands exec'd into it.

    The image's entrypoint is not run: nothing goes through it (every command is an
    exec), and a runtime image's entrypoint need not pass its arguments on.
    """

    image: str  # reference or id, present on this machine
    name: str  # part of the container name; a random suffix keeps parallel runs apart
    labels: Mapping[str, str]  # how `docker ps --filter label=...` finds wheelhub's containers
    kind: str  # build, test or shell: labelled, with the run that owns the container
    workdir: str  # created at start; where commands run unless told otherwise
    mounts: tuple[Mount, ...] = ()
    network: str | None = None  # None: the engine's default network
    keep: bool = False  # left in place after use (--keep-container), unless interrupted
    # Container paths handed to the invoking user before the container goes, so nothing
    # written there as root stays root-owned on the host (bind-mounted caches).
    hand_back: tuple[str, ...] = ()
    memory: int = 0  # memory limit in bytes (--memory 4G); 0: none
    # A path on an anonymous volume, removed with the container: what is written there is
    # never part of a snapshot, so a snapshot can be committed while builds write to it.
    scratch: str | None = None

    def all_labels(self, owner: Mapping[str, str]) -> dict[str, str]:
        """The spec's labels, its kind and *owner* (the run that starts it, for reaping),
        and whether it is kept on purpose (a kept container is never reaped)."""
        return {**self.labels, **owner, KIND_LABEL: self.kind,
                KEEP_LABEL: "1" if self.keep else "0"}

    def create_args(self, container_name: str,
                    owner: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Keyword arguments of the engine API's ``containers.create``; *owner*: the labels
        of the run starting it."""
        args: dict[str, Any] = {
            "image": self.image, "command": ["sleep", "infinity"], "name": container_name,
            "detach": True, "entrypoint": [], "labels": self.all_labels(owner or {}),
            "working_dir": self.workdir,
            "mounts": [{"Target": m.target, "Source": str(m.source), "Type": "bind",
                        "ReadOnly": m.read_only} for m in self.mounts],
        }
        if self.scratch:
            args["mounts"].append({"Target": self.scratch, "Type": "volume"})
        if self.network:
            args["network_mode"] = self.network
        if self.memory:
            # Swap included, so the limit is the limit: a compile over it is OOM-killed.
            args["mem_limit"] = args["memswap_limit"] = self.memory
        return args


def exec_argv(cli: str, container: str, *, workdir: str, env: Iterable[str],
              command: Sequence[str]) -> list[str]:
    """``<cli> exec -it`` into *container*. Only the names of *env* are passed (``-e NAME``
    without ``=``): the values travel in the client's environment, never on a command line."""
    argv = [cli, "exec", "-it", "-w", workdir]
    for name in sorted(env):
        argv += ["-e", name]
    return [*argv, container, *command]
