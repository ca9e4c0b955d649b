"""Builds in Docker containers, one per Python prefix, through the Docker SDK.

Modelled on cibuildwheel's ``OCIContainer``: check the engine, never pull an image
that is present, clean up in ``finally`` (success, failure and Ctrl-C alike) unless
``keep_container`` is set. Outputs leave the container through the archive API and
are written on the host by the invoking user, so nothing in the user's tree is
root-owned whatever uid the container runs as.
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
from typing import Any

from wheelhub.engines.base import CancelToken, ImageInfo, LineBuffer, LineSink, Paths
from wheelhub.engines.errors import EngineError, ImageNotFound
from wheelhub.engines.pythons import PythonPrefix, prefixes_from_listing
from wheelhub.options import BuildOptions
from wheelhub.util.fileio import atomic_write_bytes, ensure_dir, owner_ids
from wheelhub.util.log import get_logger

logger = get_logger("docker")

CONTAINER_PATHS = Paths(project="/project", workspace="/wheelhub/work",
                        wheelhouse="/wheelhub/wheelhouse", cache="/wheelhub/cache")
LABEL = "org.wheelhub.build.run"
PREPARED_REPOSITORY = "wheelhub-prepared"
PREPARED_LABEL = "org.wheelhub.prepared"


def docker_client() -> Any:
    """A connected client, or one clear error saying the daemon is unreachable."""
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as error:
        detail = str(error).split("(")[0].strip() or type(error).__name__
        raise EngineError.daemon_unreachable(detail) from None
    return client


def local_or_pulled_image(client: Any, reference: str) -> Any:
    """The image *reference*: used as is when present (never pulled), else pulled; if that
    fails, one error naming the image and how to provide it."""
    import docker.errors

    try:
        return client.images.get(reference)
    except docker.errors.ImageNotFound:
        pass
    logger.info("pulling %s (not on this machine)", reference)
    try:
        return client.images.pull(reference)
    except docker.errors.DockerException as error:
        raise ImageNotFound.for_image(reference, str(error).splitlines()[0][:200]) from None


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


class DockerSession:
    def __init__(self, client: Any, container: Any, python: PythonPrefix,
                 cancel: CancelToken, *, prepared_key: str | None = None,
                 restored_env: dict[str, str] | None = None) -> None:
        self._client = client
        self._container = container
        self._cancel = cancel
        self._prepared_key = prepared_key
        self.python = python
        self.paths = CONTAINER_PATHS
        self.restored_env = restored_env

    def snapshot(self, exported_env: Mapping[str, str]) -> None:
        """Commit the prepared container, so the next run with the same inputs (image,
        hook, build requirements, CA bundle, Python) skips the hook and the installs."""
        if self._prepared_key is None or self._cancel.cancelled:
            return
        changes = [f"LABEL {PREPARED_LABEL}.env={json.dumps(json.dumps(dict(exported_env)))}",
                   f"LABEL {PREPARED_LABEL}={self.python.tag}"]
        self._container.commit(repository=PREPARED_REPOSITORY, tag=self._prepared_key[:40],
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


class DockerEngine:
    def __init__(self, options: BuildOptions) -> None:
        self.options = options
        self._client: Any = None
        self._containers = LiveContainers()
        self._cancel = self._containers.token

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = docker_client()
        return self._client

    # -- image -----------------------------------------------------------------------------
    def _image(self) -> Any:
        return local_or_pulled_image(self.client, self.options.image)

    def inspect(self) -> ImageInfo:
        """Image id, environment and Python prefixes; the listing is cached per image id."""
        image = self._image()
        config = image.attrs.get("Config") or {}
        env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
        cache_file = self.options.cache_dir / "images" / (image.id.replace(":", "-") + ".json")
        names: list[str] | None = None
        with contextlib.suppress(OSError, ValueError):
            names = list(json.loads(cache_file.read_text())["python"])
        if names is None:
            output = self.client.containers.run(
                image.id, ["sh", "-c", "ls -1 /opt/python 2>/dev/null || true"],
                remove=True, network_mode="none", entrypoint=[])
            names = output.decode().split()
            ensure_dir(cache_file.parent)
            atomic_write_bytes(cache_file, json.dumps({"python": names}).encode())
        return ImageInfo(reference=self.options.image, id=image.id, env=env,
                         pythons=tuple(prefixes_from_listing("/opt/python", names)))

    # -- containers ------------------------------------------------------------------------
    def _mounts(self) -> list[Any]:
        from docker.types import Mount

        options = self.options
        ensure_dir(options.cache_dir)
        mounts = [
            Mount(CONTAINER_PATHS.project, str(options.project_dir), type="bind", read_only=True),
            Mount(CONTAINER_PATHS.wheelhouse, str(options.wheelhouse), type="bind",
                  read_only=True),
            Mount(CONTAINER_PATHS.cache, str(options.cache_dir), type="bind"),
        ]
        if options.ca_bundle is not None:
            mounts.append(Mount("/wheelhub/ca-bundle.crt", str(options.ca_bundle), type="bind",
                                read_only=True))
        return mounts

    def _prepared(self, key: str | None) -> tuple[str, dict[str, str] | None]:
        """The image to start from and, for a prepared snapshot, the hook's exports."""
        import docker.errors

        if key is None or self.options.force:
            return self.options.image, None
        try:
            image = self.client.images.get(f"{PREPARED_REPOSITORY}:{key[:40]}")
        except docker.errors.ImageNotFound:
            return self.options.image, None
        labels = (image.attrs.get("Config") or {}).get("Labels") or {}
        try:
            env = json.loads(labels[f"{PREPARED_LABEL}.env"])
        except (KeyError, ValueError):
            return self.options.image, None
        return str(image.id), {str(k): str(v) for k, v in env.items()}

    @contextlib.contextmanager
    def session(self, python: PythonPrefix, *, name: str,
                prepared_key: str | None = None) -> Iterator[DockerSession]:
        container_name = f"wheelhub-{name}-{uuid.uuid4().hex[:8]}"
        kwargs: dict[str, Any] = {}
        if self.options.network:
            kwargs["network_mode"] = self.options.network
        start_image, restored_env = self._prepared(prepared_key)
        if restored_env is not None:
            logger.info("starting from the prepared snapshot (hook and build requirements "
                        "already applied)")
        container = self.client.containers.create(
            start_image, ["sleep", "infinity"], name=container_name, detach=True,
            mounts=self._mounts(), labels={LABEL: name}, working_dir=CONTAINER_PATHS.workspace,
            **kwargs)
        self._containers.add(container_name, container)
        try:
            container.start()
            logger.debug("started container %s for %s", container_name, python.tag)
            container.exec_run(["mkdir", "-p", CONTAINER_PATHS.workspace])
            yield DockerSession(self.client, container, python, self._cancel,
                                prepared_key=prepared_key, restored_env=restored_env)
        finally:
            self._finish(container_name, container)

    def _finish(self, container_name: str, container: Any) -> None:
        import docker.errors

        self._containers.discard(container_name)
        # Hand caches written by root in the container back to the invoking user.
        with contextlib.suppress(docker.errors.DockerException):
            if not self._cancel.cancelled:
                uid, gid = owner_ids() or (os.getuid(), os.getgid())
                container.exec_run(["chown", "-R", f"{uid}:{gid}", CONTAINER_PATHS.cache])
        if self.options.keep_container and not self._cancel.cancelled:
            logger.info("keeping container %s (--keep-container)", container_name)
            return
        with contextlib.suppress(docker.errors.DockerException):
            container.remove(force=True)

    def cancel(self) -> None:
        self._containers.cancel()
