"""The wheelhouse manifest: what was built from which inputs, and how it tested.

``<wheelhouse>/wheelhub-manifest.json`` holds one :class:`Entry` per requirement ×
Python. Wheels are not byte-reproducible, so the cache keys on *inputs*
(:attr:`Entry.key`), not on output hashes. ``publish`` reads it to publish only
wheels whose builds succeeded (and passed ``wheelhub test``). It is rewritten
atomically after every finished entry, so an interrupted build leaves it consistent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from wheelhub.util.fileio import atomic_write_bytes

MANIFEST_NAME = "wheelhub-manifest.json"
FORMAT_VERSION = 1

# "interrupted": not built because the run stopped first (a signal, a full disk, a lost
# daemon); not a failure of the package, and the next run builds it.
BuildStatus = Literal["built", "cached", "failed", "skipped", "interrupted"]
TestStatus = Literal["passed", "failed", "untested"]


@dataclass(frozen=True, kw_only=True, slots=True)
class WheelRecord:
    filename: str
    sha256: str
    size: int
    project: str  # canonical name
    version: str
    tags: tuple[str, ...]
    vendored: tuple[str, ...] = ()  # libraries auditwheel grafted in
    repaired: bool = False

    @property
    def pure(self) -> bool:
        return self.filename.endswith("-none-any.whl")


@dataclass(frozen=True, kw_only=True, slots=True)
class TestRecord:
    status: TestStatus
    detail: str = ""
    image: str = ""
    image_id: str = ""  # the runtime image's id: a verdict restored from a cache holds only for it


@dataclass(frozen=True, kw_only=True, slots=True)
class Entry:
    """One requirement built for one Python prefix."""

    requirement: str
    project: str
    python: str
    key: str  # sha256 over every input that can change the output
    status: BuildStatus
    prekey: str = ""  # sha256 over the requirement's own inputs: how a cache finds the key
    origin: str = ""  # "cached" from where: "" this wheelhouse, else the remote cache's URL
    wheels: tuple[WheelRecord, ...] = ()
    inputs: dict[str, str] = field(default_factory=dict)
    log: str = ""  # path relative to the wheelhouse
    error: str = ""
    duration: float = 0.0
    test: TestRecord = field(default_factory=lambda: TestRecord(status="untested"))
    # built by keeping its own wheel (its inputs unchanged) and making only its closure
    relinked: bool = False

    @property
    def ok(self) -> bool:
        return self.status in {"built", "cached", "skipped"}

    @property
    def how(self) -> str:
        """built, relinked, cached (local), cached (remote, from URL), failed, ..."""
        if self.status == "built" and self.relinked:
            return "relinked"
        if self.status != "cached":
            return self.status
        return f"cached (remote, from {self.origin})" if self.origin else "cached (local)"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["wheels"] = [asdict(w) for w in self.wheels]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        wheels = tuple(
            WheelRecord(**{**w, "tags": tuple(w["tags"]), "vendored": tuple(w["vendored"])})
            for w in data.get("wheels", ())
        )
        test = TestRecord(**data["test"]) if data.get("test") else TestRecord(status="untested")
        fields = {k: v for k, v in data.items() if k not in {"wheels", "test"}}
        return cls(**fields, wheels=wheels, test=test)


@dataclass(frozen=True, kw_only=True, slots=True)
class LockedFile:
    """A file a hermetic build fetched on the host (``--hermetic``), and what needed it.
    An empty filename records that the need found nothing (no wheel for that Python)."""

    filename: str
    sha256: str
    need: str  # the requirement or build backend, with a digest of its inputs
    python: str = ""  # '' for every Python (an sdist)


@dataclass(frozen=True, kw_only=True, slots=True)
class Manifest:
    entries: tuple[Entry, ...] = ()
    image: str = ""
    image_id: str = ""
    lock: tuple[LockedFile, ...] = ()  # what the last --hermetic run fetched

    # -- queries -------------------------------------------------------------------------
    def find(self, project: str, python: str) -> Entry | None:
        for entry in self.entries:
            if entry.project == project and entry.python == python:
                return entry
        return None

    def wheel_filenames(self) -> set[str]:
        return {w.filename for e in self.entries for w in e.wheels}

    def publishable_wheels(self, *, allow_untested: bool = False) -> list[WheelRecord]:
        """Wheels every referencing entry built successfully (and tested, unless allowed).

        A wheel shared by several entries (a dependency, a pure wheel) is held back if
        any of them failed to build or test: it is not known to be good everywhere.
        """
        verdict: dict[str, bool] = {}
        records: dict[str, WheelRecord] = {}
        for entry in self.entries:
            good = entry.ok and (
                entry.test.status == "passed"
                or (allow_untested and entry.test.status == "untested")
            )
            for wheel in entry.wheels:
                records[wheel.filename] = wheel
                verdict[wheel.filename] = verdict.get(wheel.filename, True) and good
        return [records[name] for name in sorted(records) if verdict[name]]

    # -- updates -------------------------------------------------------------------------
    def with_entry(self, entry: Entry) -> Manifest:
        kept = [e for e in self.entries
                if not (e.project == entry.project and e.python == entry.python)]
        return replace(self, entries=(*kept, entry))

    def with_entries(self, entries: Iterable[Entry]) -> Manifest:
        manifest = self
        for entry in entries:
            manifest = manifest.with_entry(entry)
        return manifest

    def with_test(self, project: str, python: str, test: TestRecord) -> Manifest:
        """The entry for (*project*, *python*) with its test verdict; as is without one."""
        entry = self.find(project, python)
        return self if entry is None else self.with_entry(replace(entry, test=test))

    def only(self, keep: set[tuple[str, str]]) -> Manifest:
        """Drop entries for (project, python) pairs no longer requested."""
        return replace(self, entries=tuple(e for e in self.entries
                                           if (e.project, e.python) in keep))

    # -- persistence ---------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        ordered = sorted(self.entries, key=lambda e: (e.project, e.python))
        data: dict[str, Any] = {"format": FORMAT_VERSION, "image": self.image,
                                "image_id": self.image_id,
                                "entries": [e.to_json() for e in ordered]}
        if self.lock:
            data["lock"] = [asdict(f) for f in self.lock]
        return data

    def save(self, wheelhouse: Path) -> None:
        text = json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n"
        atomic_write_bytes(wheelhouse / MANIFEST_NAME, text.encode())

    @classmethod
    def load(cls, wheelhouse: Path) -> Manifest:
        """The manifest in *wheelhouse*, or an empty one if there is none (or it is unreadable)."""
        path = wheelhouse / MANIFEST_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return cls()
        if data.get("format") != FORMAT_VERSION:
            return cls()
        return cls(entries=tuple(Entry.from_json(e) for e in data.get("entries", ())),
                   image=data.get("image", ""), image_id=data.get("image_id", ""),
                   lock=tuple(LockedFile(**f) for f in data.get("lock", ())))


class ManifestWriter:
    """A wheelhouse's manifest as a run changes it (entries finish in parallel threads):
    one change at a time, each saved atomically at once, so Ctrl-C leaves it consistent."""

    def __init__(self, manifest: Manifest, wheelhouse: Path) -> None:
        self.manifest = manifest
        self.wheelhouse = wheelhouse
        self.recorded: set[tuple[str, str]] = set()  # (project, python) finished this run
        self._lock = threading.Lock()

    def update(self, change: Callable[[Manifest], Manifest]) -> None:
        with self._lock:
            changed = change(self.manifest)
            if changed is not self.manifest:
                self.manifest = changed
                changed.save(self.wheelhouse)

    def record(self, entry: Entry) -> None:
        self.update(lambda manifest: manifest.with_entry(entry))
        with self._lock:
            self.recorded.add((entry.project, entry.python))
