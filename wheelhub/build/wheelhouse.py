"""The wheelhouse on the host: wheels stored atomically, logs, and pruning."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from wheelhub.build.errors import DISK_FULL, WheelhouseError
from wheelhub.build.repair import vendored_libraries
from wheelhub.engines.base import Session
from wheelhub.manifest import Manifest, WheelRecord
from wheelhub.util.fileio import atomic_writer, ensure_dir, sha256_file

LOG_DIR = "logs"


def check_writable(wheelhouse: Path) -> None:
    try:
        ensure_dir(wheelhouse)
        fd, name = tempfile.mkstemp(dir=wheelhouse, prefix=".wheelhub-probe-")
        os.close(fd)
        Path(name).unlink()
    except OSError as error:
        raise WheelhouseError.not_writable(str(wheelhouse), error.strerror or str(error)) from None


def remove_partial_files(wheelhouse: Path) -> list[str]:
    """Remove the temporary files of writes a killed run left (``.<name>.<random>.tmp``, as
    :func:`~wheelhub.util.fileio.atomic_writer` names them). One build per wheelhouse at a
    time, so at the start of a build none of them belongs to a live write."""
    removed = []
    for path in wheelhouse.glob(".*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path.name)
    return removed


class Wheelhouse:
    """Stores wheels coming out of sessions. Thread-safe; one per build."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._written_this_run: set[str] = set()

    def log_path(self, python: str, project: str) -> Path:
        return ensure_dir(self.path / LOG_DIR / python) / f"{project}.log"

    def claim(self, filenames: Iterable[str]) -> None:
        """Files already in place for this run (from a cache): a build keeps, not rewrites them."""
        with self._lock:
            self._written_this_run.update(filenames)

    def store(self, session: Session, source: str, *, repaired: bool) -> WheelRecord:
        """Copy a wheel out of *session* into the wheelhouse (atomic), and describe it.

        A file another prefix already wrote in this run (a shared pure wheel or
        dependency) is kept, not overwritten, so one filename always has one hash.
        """
        filename = source.rsplit("/", 1)[-1]
        target = self.path / filename
        with self._lock:
            first = filename not in self._written_this_run
        if first:
            try:
                with atomic_writer(target) as handle:
                    def write(chunk: bytes) -> None:
                        handle.write(chunk)

                    session.copy_out(source, write)
            except OSError as error:  # atomic_writer removed the partial file
                if error.errno not in DISK_FULL:
                    raise
                raise WheelhouseError.disk_full(target, needed=session.size(source)) from None
            with self._lock:
                self._written_this_run.add(filename)
        return describe(target, repaired=repaired)

    def prune(self, old: Manifest, new: Manifest) -> list[str]:
        """Remove wheels an earlier build wrote that no current entry references."""
        keep = new.wheel_filenames()
        removed = []
        for name in sorted(old.wheel_filenames() - keep):
            with contextlib.suppress(FileNotFoundError):
                (self.path / name).unlink()
                removed.append(name)
        return removed


def describe(path: Path, *, repaired: bool = False) -> WheelRecord:
    name, version, _build, tags = parse_wheel_filename(path.name)
    return WheelRecord(
        filename=path.name, sha256=sha256_file(path), size=path.stat().st_size,
        project=canonicalize_name(name), version=str(version),
        tags=tuple(sorted(str(t) for t in tags)), vendored=vendored_libraries(str(path)),
        repaired=repaired)
