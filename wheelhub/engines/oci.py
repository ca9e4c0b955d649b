"""Every container wheelhub starts (build, test, shell), through the Docker SDK.

The only module that talks to the container engine. Modelled on cibuildwheel's
``OCIContainer``: check the engine, never pull an image that is present, clean up in
``finally`` (success, failure and Ctrl-C alike) unless the spec says keep. Files leave
a container through the archive API and are written on the host by the invoking
user, so nothing in the user's tree is root-owned whatever uid the container runs as.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tarfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wheelhub.engines.base import CancelToken, LineBuffer, LineSink, Paths
from wheelhub.engines.errors import EngineError, ImageNotFound
from wheelhub.engines.pythons import PythonPrefix
from wheelhub.engines.spec import DOCKER, ContainerSpec, OCIEngineConfig
from wheelhub.util.fileio import owner_ids
from wheelhub.util.log import get_logger

logger = get_logger("containers")

# Prepared build environments are committed as images; labels carry what they restore.
PREPARED_REPOSITORY = "wheelhub-prepared"
PREPARED_LABEL = "org.wheelhub.prepared"


@dataclass(frozen=True, kw_only=True, slots=True)
class LocalImage:
    """An image present on this machine. ``id`` is its content id."""

    id: str
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_sdk(cls, image: Any) -> LocalImage:
        config = image.attrs.get("Config") or {}
        env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
        return cls(id=str(image.id), env=env, labels=dict(config.get("Labels") or {}))


class LiveContainers:
    """Containers this process started, so Ctrl-C can remove them all at once."""

    def __init__(self) -> None:
        self.token = CancelToken()
        self._live: dict[str, Any] = {}
        self._lock = threading.Lock()

    def add(self, name: str, container: Any) -> None:
        with self._lock:
            self._live[name] = container

    def discard(self, name: str) -> None:
        with self._lock:
            self._live.pop(name, None)

    def cancel(self) -> None:
        """Mark everything cancelled and remove every live container now."""
        import docker.errors

        self.token.cancel()
        with self._lock:
            live = list(self._live.values())
        for container in live:
            with contextlib.suppress(docker.errors.DockerException):
                container.remove(force=True)


class ContainerSession:
    """A :class:`~wheelhub.engines.base.Session` in a running container."""

    def __init__(self, client: Any, container: Any, *, python: PythonPrefix, paths: Paths,
                 cancel: CancelToken, snapshot_key: str | None = None,
                 restored_env: dict[str, str] | None = None) -> None:
        self._client = client
        self._container = container
        self._cancel = cancel
        self._snapshot_key = snapshot_key
        self.python = python
        self.paths = paths
        self.restored_env = restored_env

    def snapshot(self, exported_env: Mapping[str, str]) -> None:
        """Commit the prepared container, so the next run with the same inputs (image,
        hook, build requirements, CA bundle, Python) skips the hook and the installs."""
        if self._snapshot_key is None or self._cancel.cancelled:
            return
        changes = [f"LABEL {PREPARED_LABEL}.env={json.dumps(json.dumps(dict(exported_env)))}",
                   f"LABEL {PREPARED_LABEL}={self.python.tag}"]
        self._container.commit(repository=PREPARED_REPOSITORY, tag=self._snapshot_key[:40],
                               changes=changes)

    @property
    def container_id(self) -> str:
        return str(self._container.id)

    def run(self, argv: Sequence[str], *, env: Mapping[str, str], sink: LineSink,
            workdir: str | None = None) -> int:
        if self._cancel.cancelled:
            return 130
        api = self._client.api
        exec_id = api.exec_create(self._container.id, list(argv), environment=dict(env),
                                  workdir=workdir or self.paths.workspace)["Id"]
        buffer = LineBuffer(sink)
        try:
            for chunk in api.exec_start(exec_id, stream=True):
                buffer.feed(chunk)
        except Exception:
            # The container was removed under us (Ctrl-C); report as interrupted.
            if self._cancel.cancelled:
                return 130
            raise
        finally:
            buffer.close()
        if self._cancel.cancelled:
            return 130
        code = api.exec_inspect(exec_id)["ExitCode"]
        return int(code if code is not None else 1)

    def _tar_member(self, path: str) -> tuple[tarfile.TarFile, tarfile.TarInfo]:
        stream, _stat = self._container.get_archive(path)
        buffer = io.BytesIO(b"".join(stream))
        archive = tarfile.open(fileobj=buffer)
        member = archive.next()
        if member is None or not member.isfile():
            raise FileNotFoundError(path)
        return archive, member

    def read_file(self, path: str) -> bytes:
        archive, member = self._tar_member(path)
        handle = archive.extractfile(member)
        assert handle is not None
        return handle.read()

    def copy_out(self, path: str, on_chunk: Callable[[bytes], None]) -> None:
        archive, member = self._tar_member(path)
        handle = archive.extractfile(member)
        assert handle is not None
        while chunk := handle.read(1 << 20):
            on_chunk(chunk)

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        directory, name = path.rsplit("/", 1)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            archive.addfile(info, io.BytesIO(data))
        self._container.exec_run(["mkdir", "-p", directory])
        self._container.put_archive(directory, buffer.getvalue())

    def list_files(self, directory: str, suffix: str) -> list[str]:
        result = self._container.exec_run(
            ["find", directory, "-maxdepth", "1", "-type", "f", "-name", f"*{suffix}"])
        if result.exit_code != 0:
            return []
        return sorted(line for line in result.output.decode().splitlines() if line)


class Containers:
    """Starts containers from specs on one engine; every one is tracked for Ctrl-C."""

    def __init__(self, engine: OCIEngineConfig = DOCKER) -> None:
        self.engine = engine
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._live = LiveContainers()

    @property
    def cancel_token(self) -> CancelToken:
        return self._live.token

    @property
    def client(self) -> Any:
        """A connected client, or one clear error saying the daemon is unreachable."""
        with self._client_lock:
            if self._client is None:
                import docker
                import docker.errors

                try:
                    client = docker.from_env(timeout=600)
                    client.ping()
                except docker.errors.DockerException as error:
                    detail = str(error).split("(")[0].strip() or type(error).__name__
                    raise EngineError.daemon_unreachable(detail) from None
                self._client = client
            return self._client

    # -- images ----------------------------------------------------------------------------
    def image(self, reference: str) -> LocalImage:
        """The image *reference*: used as is when present (never pulled), else pulled; if
        that fails, one error naming the image and how to provide it."""
        import docker.errors

        try:
            return LocalImage.from_sdk(self.client.images.get(reference))
        except docker.errors.ImageNotFound:
            pass
        logger.info("pulling %s (not on this machine)", reference)
        try:
            return LocalImage.from_sdk(self.client.images.pull(reference))
        except docker.errors.DockerException as error:
            raise ImageNotFound.for_image(reference, str(error).splitlines()[0][:200]) from None

    def prepared(self, key: str) -> tuple[str, dict[str, str]] | None:
        """The snapshot a session with *key* committed (image id, the hook's exports)."""
        import docker.errors

        try:
            image = LocalImage.from_sdk(
                self.client.images.get(f"{PREPARED_REPOSITORY}:{key[:40]}"))
            env = json.loads(image.labels[f"{PREPARED_LABEL}.env"])
        except (docker.errors.ImageNotFound, KeyError, ValueError):
            return None
        return image.id, {str(k): str(v) for k, v in env.items()}

    def output(self, image_id: str, argv: Sequence[str]) -> str:
        """The output of *argv* in a throwaway container without network."""
        output: bytes = self.client.containers.run(image_id, list(argv), remove=True,
                                                   network_mode="none", entrypoint=[])
        return output.decode()

    # -- containers ------------------------------------------------------------------------
    @contextlib.contextmanager
    def start(self, spec: ContainerSpec, *, python: PythonPrefix, paths: Paths,
              snapshot_key: str | None = None,
              restored_env: dict[str, str] | None = None) -> Iterator[ContainerSession]:
        """Start a container from *spec*; remove it on exit unless ``spec.keep``.

        With *snapshot_key*, :meth:`ContainerSession.snapshot` commits the container
        for :meth:`prepared`; *restored_env* is what a prepared snapshot restored.
        """
        name = f"wheelhub-{spec.name}-{uuid.uuid4().hex[:8]}"
        container = self.client.containers.create(**spec.create_args(name))
        self._live.add(name, container)
        try:
            container.start()
            logger.debug("started container %s from %s", name, spec.image)
            container.exec_run(["mkdir", "-p", spec.workdir])
            yield ContainerSession(self.client, container, python=python, paths=paths,
                                   cancel=self.cancel_token, snapshot_key=snapshot_key,
                                   restored_env=restored_env)
        finally:
            self._finish(spec, name, container)

    def _finish(self, spec: ContainerSpec, name: str, container: Any) -> None:
        import docker.errors

        self._live.discard(name)
        cancelled = self.cancel_token.cancelled
        if spec.hand_back and not cancelled:
            with contextlib.suppress(docker.errors.DockerException):
                uid, gid = owner_ids() or (os.getuid(), os.getgid())
                container.exec_run(["chown", "-R", f"{uid}:{gid}", *spec.hand_back])
        if spec.keep and not cancelled:
            logger.info("keeping container %s (--keep-container)", name)
            return
        with contextlib.suppress(docker.errors.DockerException):
            container.remove(force=True)

    def cancel(self) -> None:
        """Stop every container now (Ctrl-C); sessions' run() calls return promptly."""
        self._live.cancel()
