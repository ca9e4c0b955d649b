"""Every container wheelhub starts (build, test, shell), through the Docker SDK.

The only module that talks to the container engine. Modelled on cibuildwheel's
``OCIContainer``: check the engine, never pull an image that is present, clean up in
``finally`` (success, failure and Ctrl-C alike) unless the spec says keep. Files leave
a container through the archive API and are written on the host by the invoking
user, so nothing in the user's tree is root-owned whatever uid the container runs as.

Every container is labelled with the run that started it (:func:`this_run`): what a
``kill -9`` leaves behind, the next run removes (:meth:`Containers.reap_orphans`). Engine
failures mid-run (the daemon stopped or restarted) become one :class:`EngineError`.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import os
import socket
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wheelhub.engines.base import Cancelled, CancelToken, LineBuffer, LineSink, Paths
from wheelhub.engines.errors import EngineError, ImageNotFound
from wheelhub.engines.pythons import PythonPrefix
from wheelhub.engines.spec import (
    DOCKER,
    HOST_LABEL,
    KEEP_LABEL,
    PID_LABEL,
    RUN_LABEL,
    STARTED_LABEL,
    ContainerSpec,
    OCIEngineConfig,
)
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


def encode_label(value: Mapping[str, str]) -> str:
    """JSON as a ``LABEL`` value every engine keeps verbatim: Docker unquotes a quoted value,
    podman keeps its backslashes; base64 has nothing to quote."""
    return base64.urlsafe_b64encode(json.dumps(dict(value)).encode()).decode().rstrip("=")


def decode_label(text: str) -> dict[str, str]:
    """What :func:`encode_label` wrote (or plain JSON, as older snapshots hold); ValueError
    when it is neither."""
    if not text.startswith("{"):
        text = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a mapping")
    return {str(k): str(v) for k, v in data.items()}


@dataclass(frozen=True, kw_only=True, slots=True)
class PreparedImage:
    """A prepared snapshot (``wheelhub-prepared:<key>``) on the engine."""

    id: str
    key: str  # the tag: the first 40 hex digits of the prepared key
    created: str  # as the engine reports it (RFC 3339 or epoch seconds)
    size: int  # bytes of its own layers (the build image's are shared)
    python: str


# -- who owns a container -------------------------------------------------------------------
def _process_started(pid: int) -> str | None:
    """The start time of process *pid* (clock ticks since boot), None when there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name may hold spaces


def _host_identity() -> str:
    """Where a pid means something: the host name and the pid namespace."""
    try:
        namespace = str(Path("/proc/self/ns/pid").readlink())
    except OSError:
        namespace = ""
    return f"{socket.gethostname()} {namespace}".strip()


@functools.cache
def this_run() -> dict[str, str]:
    """The labels naming this process as the owner of the containers it starts."""
    pid = os.getpid()
    return {RUN_LABEL: uuid.uuid4().hex, PID_LABEL: str(pid),
            STARTED_LABEL: _process_started(pid) or "", HOST_LABEL: _host_identity()}


def run_is_gone(labels: Mapping[str, str]) -> bool:
    """Whether the run that labelled a container has ended (killed, crashed). A run on
    another host, or a container kept on purpose (--keep-container), is never judged gone."""
    if labels.get(KEEP_LABEL) == "1" or labels.get(HOST_LABEL) != _host_identity():
        return False
    try:
        pid = int(labels.get(PID_LABEL, ""))
    except ValueError:
        return False
    started, recorded = _process_started(pid), labels.get(STARTED_LABEL)
    return started is None or (bool(recorded) and started != recorded)


def _engine_failures() -> tuple[type[BaseException], ...]:
    """What the SDK raises when the daemon fails or goes away mid-call."""
    import docker.errors
    import requests.exceptions
    import urllib3.exceptions

    return (docker.errors.DockerException, requests.exceptions.RequestException,
            urllib3.exceptions.HTTPError, ConnectionError)


@contextlib.contextmanager
def engine_calls(cancel: CancelToken, what: str) -> Iterator[None]:
    """Engine failures inside as :class:`Cancelled` when the run is being stopped (the
    container was removed under us), else one :class:`EngineError` saying *what* failed."""
    try:
        yield
    except _engine_failures() as error:
        if cancel.cancelled:
            raise Cancelled from None
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise EngineError.lost(what, detail) from None


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
        """Mark everything cancelled and remove every live container now, in parallel
        (a CI runner allows a few seconds between SIGTERM and SIGKILL)."""
        self.token.cancel()
        with self._lock:
            live = list(self._live.values())
        removals = [threading.Thread(target=_remove, args=(c,), daemon=True) for c in live]
        for thread in removals:
            thread.start()
        for thread in removals:
            thread.join(timeout=20)


def hand_back_script(uid: int, gid: int) -> str:
    """Chown to *uid*:*gid* only what is not theirs yet under the paths given as arguments:
    a cache holds thousands of files from earlier runs, and ``chown -R`` touched them all
    (``chown -R`` remains for an image without ``find``)."""
    owner = f"{uid}:{gid}"
    return (f'find "$@" \\( ! -uid {uid} -o ! -gid {gid} \\) -exec chown -h {owner} {{}} + '
            f'2>/dev/null || chown -R {owner} "$@"')


def _remove(container: Any) -> None:
    with contextlib.suppress(*_engine_failures()):
        container.remove(force=True, v=True)  # v: its workspace volume too


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
        self._committing: threading.Thread | None = None

    def snapshot(self, exported_env: Mapping[str, str]) -> None:
        """Commit the prepared container, so the next run with the same inputs (image,
        hook, build requirements, CA bundle, Python) skips the hook and the installs.

        The commit runs in the background, unpaused, while the builds start: they write
        only to the workspace (a volume, which no commit holds) and the cache (a bind
        mount). :meth:`wait_for_snapshot` (the session's end) waits for it; a commit that
        fails costs only the next run's preparation, so it is logged, never raised.
        """
        if self._snapshot_key is None or self._cancel.cancelled:
            return
        changes = [f"LABEL {PREPARED_LABEL}.env={encode_label(dict(exported_env))}",
                   f"LABEL {PREPARED_LABEL}={self.python.tag}"]
        tag = self._snapshot_key[:40]

        def commit() -> None:
            started = time.monotonic()
            try:
                with engine_calls(self._cancel, "saving the prepared environment"):
                    self._container.commit(repository=PREPARED_REPOSITORY, tag=tag,
                                           changes=changes, pause=False)
            except (EngineError, Cancelled) as error:
                if not self._cancel.cancelled:
                    logger.info("could not save the prepared environment (the next run "
                                "prepares again): %s", getattr(error, "message", error))
                return
            logger.debug("saved the prepared environment in %.1fs", time.monotonic() - started)

        self._committing = threading.Thread(target=commit, name=f"snapshot-{self.python.tag}",
                                            daemon=True)
        self._committing.start()

    def wait_for_snapshot(self) -> None:
        if self._committing is not None:
            self._committing.join()
            self._committing = None

    @property
    def container_id(self) -> str:
        return str(self._container.id)

    def run(self, argv: Sequence[str], *, env: Mapping[str, str], sink: LineSink,
            workdir: str | None = None) -> int:
        if self._cancel.cancelled:
            raise Cancelled
        api = self._client.api
        buffer = LineBuffer(sink)
        with engine_calls(self._cancel, f"running {argv[0]}"):
            exec_id = api.exec_create(self._container.id, list(argv), environment=dict(env),
                                      workdir=workdir or self.paths.workspace)["Id"]
            try:
                for chunk in api.exec_start(exec_id, stream=True):
                    buffer.feed(chunk)
            finally:
                buffer.close()
            if self._cancel.cancelled:
                raise Cancelled  # the container was removed under the command
            code = api.exec_inspect(exec_id)["ExitCode"]
        return int(code if code is not None else 1)

    def _tar_member(self, path: str) -> tuple[tarfile.TarFile, tarfile.TarInfo]:
        with engine_calls(self._cancel, f"copying {path} out"):
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

    def size(self, path: str) -> int:
        with engine_calls(self._cancel, f"reading the size of {path}"):
            _stream, stat = self._container.get_archive(path)
        return int(stat.get("size", 0))

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            # The whole path from /: the engine makes missing parents as it unpacks (one
            # call, no `mkdir -p` exec first).
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            info.mode = mode
            archive.addfile(info, io.BytesIO(data))
        with engine_calls(self._cancel, f"copying {path} in"):
            self._container.put_archive("/", buffer.getvalue())

    def list_files(self, directory: str, suffix: str) -> list[str]:
        with engine_calls(self._cancel, f"listing {directory}"):
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

                url = self.engine.url(os.environ)
                try:
                    client = (docker.DockerClient(base_url=url, timeout=600) if url
                              else docker.from_env(timeout=600))
                    client.ping()
                except docker.errors.DockerException as error:
                    detail = str(error).split("(")[0].strip() or type(error).__name__
                    raise EngineError.daemon_unreachable(
                        f"{url}: {detail}" if url else detail, engine=self.engine.name,
                        start_hint=self.engine.start_hint) from None
                self._client = client
                self.reap_orphans()
            return self._client

    def reap_orphans(self) -> int:
        """Remove the containers of wheelhub runs that are gone (``kill -9``, a crash, a
        lost daemon); say how many. Called once per connection, so every run cleans up."""
        found: list[Any] = []
        with contextlib.suppress(*_engine_failures()):
            found = self._client.containers.list(all=True, sparse=True,
                                                 filters={"label": RUN_LABEL})
        orphans = [c for c in found if run_is_gone(c.attrs.get("Labels") or {})]
        for container in orphans:
            _remove(container)
        if orphans:
            logger.info("removed %d container(s) left behind by wheelhub runs that are gone",
                        len(orphans))
        return len(orphans)

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
            env = decode_label(image.labels[f"{PREPARED_LABEL}.env"])
        except (docker.errors.ImageNotFound, KeyError, ValueError):
            return None
        return image.id, env

    def prepared_images(self) -> list[PreparedImage]:
        """Every prepared snapshot on this engine, with its own size (beyond its parent)."""
        # The engine's image summaries (one call each): the SDK's images.list() inspects
        # every image again, seconds on a machine with many.
        api = self.client.api
        sizes = {str(i["Id"]): int(i.get("Size") or 0) for i in api.images()}
        snapshots = []
        for image in api.images(name=PREPARED_REPOSITORY):
            tags = [t.rsplit(":", 1)[1] for t in image.get("RepoTags") or ()
                    if PREPARED_REPOSITORY in t]
            size = int(image.get("Size") or 0)
            parent = str(image.get("ParentId") or "")
            snapshots.append(PreparedImage(
                id=str(image["Id"]), key=tags[0] if tags else "",
                created=str(image.get("Created") or ""),
                size=max(size - sizes.get(parent, 0), 0) if parent in sizes else size,
                python=str((image.get("Labels") or {}).get(PREPARED_LABEL, ""))))
        return snapshots

    def remove_image(self, image_id: str) -> bool:
        """Remove an image; False when a container still uses it (kept, not forced)."""
        import docker.errors

        try:
            self.client.images.remove(image_id, force=False)
        except docker.errors.APIError:  # 409: in use by a container
            return False
        return True

    def output(self, image_id: str, argv: Sequence[str]) -> str:
        """The output of *argv* in a throwaway container without network."""
        output: bytes = self.client.containers.run(image_id, list(argv), remove=True,
                                                   network_mode="none", entrypoint=[],
                                                   **self._engine_args())
        return output.decode()

    # -- containers ------------------------------------------------------------------------
    def _engine_args(self) -> dict[str, Any]:
        """What every container of this engine gets, whatever its spec (podman's ulimits)."""
        if not self.engine.ulimits:
            return {}
        from docker.types import Ulimit

        return {"ulimits": [Ulimit(name=u.name, soft=u.soft, hard=u.hard)
                            for u in self.engine.ulimits]}

    @contextlib.contextmanager
    def start(self, spec: ContainerSpec, *, python: PythonPrefix, paths: Paths,
              snapshot_key: str | None = None,
              restored_env: dict[str, str] | None = None) -> Iterator[ContainerSession]:
        """Start a container from *spec*; remove it on exit unless ``spec.keep``.

        With *snapshot_key*, :meth:`ContainerSession.snapshot` commits the container
        for :meth:`prepared`; *restored_env* is what a prepared snapshot restored.
        """
        name = f"wheelhub-{spec.name}-{uuid.uuid4().hex[:8]}"
        with engine_calls(self.cancel_token, f"creating container {name}"):
            container = self.client.containers.create(**spec.create_args(name, this_run()),
                                                      **self._engine_args())
        self._live.add(name, container)
        try:
            with engine_calls(self.cancel_token, f"starting container {name}"):
                container.start()
                logger.debug("started container %s from %s", name, spec.image)
                container.exec_run(["mkdir", "-p", spec.workdir])
            session = ContainerSession(self.client, container, python=python, paths=paths,
                                       cancel=self.cancel_token, snapshot_key=snapshot_key,
                                       restored_env=restored_env)
            try:
                yield session
            finally:
                session.wait_for_snapshot()
        finally:
            self._finish(spec, name, container)

    def _finish(self, spec: ContainerSpec, name: str, container: Any) -> None:
        self._live.discard(name)
        cancelled = self.cancel_token.cancelled
        if spec.hand_back and not cancelled:
            with contextlib.suppress(*_engine_failures()):
                uid, gid = owner_ids() or (os.getuid(), os.getgid())
                container.exec_run(["sh", "-c", hand_back_script(uid, gid), "sh",
                                    *spec.hand_back])
        if spec.keep and not cancelled:
            logger.info("keeping container %s (--keep-container)", name)
            return
        _remove(container)  # if the daemon is gone, the next run reaps it

    def cancel(self) -> None:
        """Stop every container now (Ctrl-C); sessions' run() calls return promptly."""
        self._live.cancel()
