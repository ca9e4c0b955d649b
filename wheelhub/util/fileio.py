"""Writing into the user's tree: atomic, durable, and owned by the invoking user.

Files appear whole or not at all (temporary file in the same directory, fsync,
rename), so a full disk or Ctrl-C never leaves a truncated wheel. When wheelhub runs
as root on behalf of a user (sudo), outputs are handed back to that user.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO


def owner_ids(env: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """The (uid, gid) outputs should belong to, or None when that is already us."""
    env = os.environ if env is None else env
    if os.geteuid() != 0:
        return None
    uid, gid = env.get("SUDO_UID"), env.get("SUDO_GID")
    if uid and gid and uid.isdigit() and gid.isdigit():
        return int(uid), int(gid)
    return None


def chown_to_user(path: Path, ids: tuple[int, int] | None = None) -> None:
    ids = ids if ids is not None else owner_ids()
    if ids is not None:
        with contextlib.suppress(OSError):
            os.chown(path, *ids, follow_symlinks=False)  # a link itself, never its target


def ensure_dir(path: Path) -> Path:
    """Create *path* (and parents) owned by the invoking user."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for created in reversed(missing):
        chown_to_user(created)
    return path


@contextlib.contextmanager
def atomic_writer(target: Path) -> Iterator[IO[bytes]]:
    """Yield a file to write; on success it replaces *target* atomically, else vanishes."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        chown_to_user(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_writer(target) as handle:
        handle.write(data)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
