"""Builds on the machine itself, for CI jobs that already run inside a manylinux image.

The same steps as in containers, with the interpreters under ``/opt/python/*``
(or ``WHEELHUB_HOST_PYTHON_ROOT``) and a temporary workspace per prefix.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from wheelhub.engines.base import (
    COMPILERS,
    Cancelled,
    CancelToken,
    ImageInfo,
    LineBuffer,
    LineSink,
    Paths,
)
from wheelhub.engines.errors import EngineError
from wheelhub.engines.pythons import PythonPrefix, prefixes_from_listing
from wheelhub.options import BuildOptions
from wheelhub.util.fileio import ensure_dir


class HostSession:
    def __init__(self, python: PythonPrefix, paths: Paths, cancel: CancelToken) -> None:
        self.python = python
        self.paths = paths
        self._cancel = cancel
        self._processes: set[subprocess.Popen[bytes]] = set()
        self.restored_env: dict[str, str] | None = None

    def snapshot(self, exported_env: Mapping[str, str]) -> None:
        """The host keeps no snapshots: each run prepares again."""

    def run(self, argv: Sequence[str], *, env: Mapping[str, str], sink: LineSink,
            workdir: str | None = None) -> int:
        if self._cancel.cancelled:
            raise Cancelled
        full_env = {**os.environ, **env}
        process = subprocess.Popen(list(argv), cwd=workdir or self.paths.workspace, env=full_env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self._processes.add(process)
        buffer = LineBuffer(sink)
        try:
            stdout = process.stdout
            assert stdout is not None
            while chunk := os.read(stdout.fileno(), 65536):
                buffer.feed(chunk)
            code = process.wait()
            if self._cancel.cancelled:
                raise Cancelled  # killed by cancel(): not the command's own failure
            return code
        finally:
            buffer.close()
            self._processes.discard(process)

    def kill(self) -> None:
        for process in list(self._processes):
            with contextlib.suppress(OSError):
                os.killpg(process.pid, 9)

    def read_file(self, path: str) -> bytes:
        return Path(path).read_bytes()

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(mode)

    def list_files(self, directory: str, suffix: str) -> list[str]:
        folder = Path(directory)
        if not folder.is_dir():
            return []
        return sorted(str(p) for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix))

    def copy_out(self, path: str, on_chunk: Callable[[bytes], None]) -> None:
        with Path(path).open("rb") as handle:
            while chunk := handle.read(1 << 20):
                on_chunk(chunk)

    def size(self, path: str) -> int:
        return Path(path).stat().st_size


class HostEngine:
    def __init__(self, options: BuildOptions, *, python_root: str | None = None) -> None:
        self.options = options
        self.python_root = python_root or os.environ.get("WHEELHUB_HOST_PYTHON_ROOT",
                                                         "/opt/python")
        self._cancel = CancelToken()
        self._sessions: set[HostSession] = set()

    def inspect(self) -> ImageInfo:
        root = Path(self.python_root)
        if not root.is_dir():
            raise EngineError(f"--engine host: {root} does not exist on this machine",
                              hint="run inside a manylinux image, or set "
                              "WHEELHUB_HOST_PYTHON_ROOT to a directory of Python prefixes")
        names = sorted(p.name for p in root.iterdir() if (p / "bin" / "python").exists())
        # The "image id" of the host: the interpreters' identities, so the cache notices
        # when they change.
        digest = hashlib.sha256()
        for name in names:
            target = (root / name / "bin" / "python").resolve()
            digest.update(f"{name}:{target}:{target.stat().st_mtime_ns}".encode())
        env = {k: v for k, v in os.environ.items() if k.startswith("AUDITWHEEL_") or k == "PATH"}
        return ImageInfo(reference="host", id="host:" + digest.hexdigest()[:16], env=env,
                         pythons=tuple(prefixes_from_listing(str(root), names)),
                         compilers=tuple(c for c in COMPILERS if shutil.which(c)))

    @contextlib.contextmanager
    def session(self, python: PythonPrefix, *, name: str, prepared_key: str | None = None,
                kind: str = "build", offline: bool = False) -> Iterator[HostSession]:
        if offline:
            raise EngineError("--engine host cannot cut the network of a build",
                              hint="use --engine docker or podman for --hermetic")
        if shutil.which("auditwheel") is None:
            raise EngineError("--engine host: auditwheel is not on PATH",
                              hint="pipx install auditwheel (manylinux images ship it)")
        ensure_dir(self.options.cache_dir)
        workspace = tempfile.mkdtemp(prefix=f"wheelhub-{name}-")
        ca_bundle = self.options.ca_bundle
        paths = Paths(project=str(self.options.project_dir), workspace=workspace,
                      wheelhouse=str(self.options.wheelhouse), cache=str(self.options.cache_dir),
                      ca_bundle=str(ca_bundle) if ca_bundle is not None else None)
        session = HostSession(python, paths, self._cancel)
        self._sessions.add(session)
        try:
            yield session
        finally:
            self._sessions.discard(session)
            if not self.options.keep_container:
                shutil.rmtree(workspace, ignore_errors=True)

    def cancel(self) -> None:
        self._cancel.cancel()
        for session in list(self._sessions):
            session.kill()
