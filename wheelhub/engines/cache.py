"""What wheelhub keeps between runs, and its bounds: prepared snapshots on the container
engine, pip's download cache and ccache in the cache directory.

Snapshots are the big part (hundreds of MB each: the hook's packages and the build
requirements). The engine keeps no last-use time, so every session that starts from or
commits a snapshot touches ``<cache dir>/prepared-used/<key>``; pruning keeps the
``keep`` most recently used (and at most ``max_size`` bytes of them) and removes the rest.
An image a container still uses is never removed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from wheelhub.engines.container import USED_DIR
from wheelhub.engines.oci import Containers, PreparedImage
from wheelhub.engines.spec import OCI_ENGINES
from wheelhub.options import BuildOptions
from wheelhub.util.log import get_logger

logger = get_logger("cache")
CACHE_DIRS = (("pip", "pip download and wheel cache"), ("uv", "uv's cache"),
              ("ccache", "compiler cache"), ("sdists", "sdists fetched once on the host"),
              ("tools", "the pinned uv and ccache"))


@dataclass(frozen=True, kw_only=True, slots=True)
class CacheItem:
    kind: str  # snapshot, or a directory of CACHE_DIRS
    name: str  # the snapshot's key (its Python), or the directory
    size: int  # bytes
    last_used: float  # epoch seconds; 0 when never
    image_id: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class PruneResult:
    removed: tuple[CacheItem, ...]
    kept: tuple[CacheItem, ...]
    in_use: tuple[CacheItem, ...] = ()  # beyond the budget, but a container uses them

    @property
    def freed(self) -> int:
        return sum(item.size for item in self.removed)


def snapshots(options: BuildOptions) -> list[CacheItem]:
    """The prepared snapshots on the engine, most recently used first."""
    oci = OCI_ENGINES.get(options.engine)
    if oci is None:
        return []
    used = options.cache_dir / USED_DIR
    items = [CacheItem(kind="snapshot", name=f"{image.key} ({image.python})", size=image.size,
                       last_used=_last_used(image, used), image_id=image.id)
             for image in Containers(oci).prepared_images()]
    return sorted(items, key=lambda item: item.last_used, reverse=True)


def cache_info(options: BuildOptions) -> list[CacheItem]:
    """Snapshots (most recently used first), then the cache directory's pip and ccache."""
    items = snapshots(options)
    for name, _what in CACHE_DIRS:
        size, newest = _tree(options.cache_dir / name)
        items.append(CacheItem(kind=name, name=str(options.cache_dir / name), size=size,
                               last_used=newest))
    return items


def prune(options: BuildOptions, *, keep: int, max_size: int = 0) -> PruneResult:
    """Keep the *keep* most recently used snapshots (within *max_size* bytes when set);
    remove the rest, least recently used first."""
    current = snapshots(options)
    budget = select(current, keep=keep, max_size=max_size)
    oci = OCI_ENGINES[options.engine] if current else None
    removed, in_use = [], []
    for item in reversed([i for i in current if i not in budget]):
        assert oci is not None
        if Containers(oci).remove_image(item.image_id):
            removed.append(item)
        else:
            in_use.append(item)
    if removed:
        logger.info("pruned %d prepared snapshot(s), %s (keeping %d)", len(removed),
                    human_size(sum(i.size for i in removed)), len(budget))
    return PruneResult(removed=tuple(removed), kept=tuple(budget), in_use=tuple(in_use))


def select(items: Sequence[CacheItem], *, keep: int, max_size: int) -> list[CacheItem]:
    """The items a budget keeps: the first *keep* (most recently used first) that fit in
    *max_size* bytes together (0: no size limit)."""
    kept: list[CacheItem] = []
    total = 0
    for item in items[:keep]:
        if max_size and total + item.size > max_size:
            break
        kept.append(item)
        total += item.size
    return kept


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # unreachable; keeps mypy's return check


def _last_used(image: PreparedImage, used: Path) -> float:
    try:
        return (used / image.key).stat().st_mtime
    except OSError:
        return _created(image.created)


def _created(text: str) -> float:
    """The engine's creation time: RFC 3339 (Docker, podman's inspect) or epoch seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00").timestamp()
    except ValueError:
        return 0.0


def _tree(path: Path) -> tuple[int, float]:
    """Bytes under *path* and the newest modification time (0, 0 when absent)."""
    size, newest = 0, 0.0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                stat = (Path(root) / name).lstat()
            except OSError:
                continue
            size += stat.st_size
            newest = max(newest, stat.st_mtime)
    return size, newest
