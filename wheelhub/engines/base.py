"""The engine interface shared by the container and host engines."""

from __future__ import annotations

import contextlib
import shlex
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from wheelhub.engines.pythons import PythonPrefix

# Called with each line of output as it arrives (live log + per-package log file).
LineSink = Callable[[str], None]


# A container's PATH when its image sets none.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The C/C++ compiler commands a compiler cache stands in front of, where an image has them.
COMPILERS = ("cc", "c++", "gcc", "g++", "clang", "clang++")


@dataclass(frozen=True, kw_only=True, slots=True)
class ImageInfo:
    """What the build environment offers. ``id`` keys the cache (content, not tag)."""

    reference: str
    id: str
    env: Mapping[str, str] = field(default_factory=dict)
    pythons: tuple[PythonPrefix, ...] = ()
    compilers: tuple[str, ...] = ()  # which of COMPILERS the image has on its PATH

    @property
    def plat(self) -> str | None:
        return self.env.get("AUDITWHEEL_PLAT") or None


@dataclass(frozen=True, kw_only=True, slots=True)
class Paths:
    """Where things are as seen from inside the session."""

    project: str  # the user's project directory (read-only in containers)
    workspace: str  # scratch space for this session
    wheelhouse: str  # final wheels so far (find-links), read-only in containers
    cache: str  # pip cache, ccache
    ca_bundle: str | None = None  # the CA bundle to trust (--ca-bundle), if any
    # System CA bundles the session may append ca_bundle to (a container's own, never
    # the host's), so yum/apt/curl in the setup hook trust it too.
    system_ca_bundles: tuple[str, ...] = ()


class Session(Protocol):
    python: PythonPrefix
    paths: Paths
    # Environment the setup hook exported in a prepared snapshot this session started from;
    # None when the session starts from the plain image and must be prepared.
    restored_env: dict[str, str] | None

    def snapshot(self, exported_env: Mapping[str, str]) -> None:
        """Keep the prepared state (hook run, build requirements installed) for next time.
        May return before it is kept (commands go on meanwhile, writing only to the
        workspace and the cache); the session's end waits for it."""
        ...

    def run(self, argv: Sequence[str], *, env: Mapping[str, str], sink: LineSink,
            workdir: str | None = None) -> int:
        """Run *argv*; stream merged stdout/stderr lines to *sink*; return the exit status.
        Raises :class:`Cancelled` once the engine is cancelled."""
        ...

    def read_file(self, path: str) -> bytes: ...

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None: ...

    def list_files(self, directory: str, suffix: str) -> list[str]:
        """Absolute paths of files in *directory* ending in *suffix* (not recursive)."""
        ...

    def copy_out(self, path: str, on_chunk: Callable[[bytes], None]) -> None:
        """Stream a file's bytes out of the session."""
        ...

    def size(self, path: str) -> int:
        """The size of a file in the session (what a full disk would have needed)."""
        ...


class Engine(Protocol):
    def inspect(self) -> ImageInfo: ...

    def session(self, python: PythonPrefix, *, name: str, prepared_key: str | None = None,
                kind: str = "build", offline: bool = False,
                ) -> contextlib.AbstractContextManager[Session]:
        """A session for *python*; with *prepared_key*, start from a snapshot made by an
        earlier session with the same key if there is one. *offline*: no network."""
        ...

    def cancel(self) -> None:
        """Stop every running session now (Ctrl-C); their run() calls return promptly."""
        ...


def shell_join(argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


class LineBuffer:
    """Turns a stream of byte chunks into complete text lines."""

    def __init__(self, sink: LineSink) -> None:
        self._sink = sink
        self._pending = b""

    def feed(self, chunk: bytes) -> None:
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            self._sink(line.decode("utf-8", "replace").rstrip("\r"))

    def close(self) -> None:
        if self._pending:
            self._sink(self._pending.decode("utf-8", "replace"))
            self._pending = b""


class Cancelled(Exception):
    """A session command did not run or was cut short: the run is being stopped (a signal,
    a full disk). Raised instead of an exit status, so no step records it as a failure."""


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


def iter_chunks(data: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]
