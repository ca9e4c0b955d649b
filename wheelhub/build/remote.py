"""Entries from a remote cache (``--cache-from``): downloaded, checked, never built.

For each planned entry the local manifest cannot serve, the sources are asked in order by
pre-key; a candidate counts only when its key recomputed from this machine's inputs is the
one recorded (:meth:`wheelhub.build.plan.Keys.matches`). Its files are streamed into the
wheelhouse through :func:`~wheelhub.util.fileio.atomic_writer` while their sha256 and size
are checked, so a wrong byte never lands: a mismatch, a missing file or a timeout is a miss
with one line saying why, and the entry is built.

A record made from the same *own* inputs whose closure pins differ (on a fresh machine, a
dependency's pin moved) still serves its own wheel: that file alone is fetched, and the
entry's closure is made again as on the machine that kept it (:mod:`wheelhub.build.relink`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from packaging.utils import canonicalize_name

from wheelhub.build.plan import Plan, PlannedEntry, own_inputs
from wheelhub.build.wheelhouse import Wheelhouse
from wheelhub.cache.errors import CacheMiss
from wheelhub.cache.records import CacheRecord
from wheelhub.cache.sources import CacheSource
from wheelhub.manifest import Entry, WheelRecord
from wheelhub.util.fileio import atomic_writer, sha256_file
from wheelhub.util.log import get_logger, prefix

logger = get_logger("build")


def candidates(planned: PlannedEntry, plan: Plan, sources: Sequence[CacheSource], *,
               label: str | None = None) -> Iterator[tuple[CacheSource, CacheRecord]]:
    """The records made from this machine's inputs for *planned*, source by source
    (only those published to *label* when given)."""
    for source in sources:
        for record in source.lookup(planned.prekey):
            if (label is None or record.label == label) and plan.keys.matches(
                    planned.line, planned.python, record.closure, record.key):
                yield source, record


def restore(plan: Plan, sources: Sequence[CacheSource], wheelhouse: Wheelhouse, *,
            label: str | None = None) -> Plan:
    """*plan* with every entry a source could serve marked cached (with its origin)."""
    if not sources:
        return plan
    entries = []
    for planned in plan.entries:
        restored = _restore_one(planned, plan, sources, wheelhouse, label) \
            if planned.needs_build else None
        if restored is not None:
            planned = replace(planned, cached=restored, origin=restored.origin)
        elif planned.needs_build and planned.own_wheel is None and label is None:
            planned = replace(planned, own_wheel=_own_wheel(planned, sources, wheelhouse))
        entries.append(planned)
    return replace(plan, entries=tuple(entries))


def _own_wheel(planned: PlannedEntry, sources: Sequence[CacheSource],
               wheelhouse: Wheelhouse) -> WheelRecord | None:
    """The wheel of *planned*'s own project from a record made from its own inputs (only
    its closure's pins differ), fetched into the wheelhouse; None without one."""
    project = planned.line.project
    with prefix(f"{planned.python.tag} {project}"):
        for source in sources:
            for record in source.lookup(planned.prekey):
                own = [w for w in record.wheels if canonicalize_name(w.project) == project]
                if len(own) != 1 or (own_inputs(record.inputs, project)
                                     != own_inputs(planned.inputs, project)):
                    continue
                try:
                    _download(replace(record, wheels=tuple(own)), source, wheelhouse.path)
                except CacheMiss as miss:
                    logger.warning("not from the cache %s: %s", source.description, miss)
                    continue
                wheelhouse.claim([own[0].filename])
                logger.info("its own wheel from the cache %s; its closure is made again",
                            source.description)
                return own[0]
    return None


def _restore_one(planned: PlannedEntry, plan: Plan, sources: Sequence[CacheSource],
                 wheelhouse: Wheelhouse, label: str | None) -> Entry | None:
    with prefix(f"{planned.python.tag} {planned.line.project}"):
        for source, record in candidates(planned, plan, sources, label=label):
            try:
                _download(record, source, wheelhouse.path)
            except CacheMiss as miss:
                logger.warning("not from the cache %s: %s; building it", source.description,
                               miss)
                continue
            wheelhouse.claim(w.filename for w in record.wheels)
            logger.info("from the cache %s (%d file(s))", source.description, len(record.wheels))
            return record.to_entry(source.description)
    return None


def _download(record: CacheRecord, source: CacheSource, directory: Path) -> None:
    """All of the record's files, or none of those this call wrote."""
    written: list[Path] = []
    try:
        for wheel in record.wheels:
            target = directory / wheel.filename
            if target.exists():
                if sha256_file(target) == wheel.sha256:
                    continue  # a dependency another entry already brought
                raise CacheMiss(f"another {wheel.filename} is already in the wheelhouse")
            with atomic_writer(target) as handle:  # removed unless fetch checked every byte
                source.fetch(wheel, handle)
            written.append(target)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
