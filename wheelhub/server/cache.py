"""Build cache records on the hub: per owner, so a wheel built on one branch serves them all.

A record says "these input keys made these files" (see :mod:`wheelhub.cache.records` for
the client's side). ``wheelhub publish`` posts one per published entry; a build on a
fresh machine looks records up by the entry's pre-key and downloads the files they name.
The hub refuses a record whose files are not in the label it names with the same sha256
and size, so a record never points at bytes the owner did not publish; readers see only
records of labels they may read, and files only through a label they may read.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from wheelhub.server.sqlite import SqlStorage
from wheelhub.server.storage import FileRecord, Storage

MAX_RECORDS = 500  # per request: a requirement set × Pythons, with room to spare


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredRecord:
    label: str  # the label it was published to (what decides who may read it)
    record: dict[str, Any]


def _hex64(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(
        c in "0123456789abcdef" for c in value)


class CacheStore:
    """The ``cache_records`` table of a :class:`SqlStorage` (SQLite or PostgreSQL)."""

    def __init__(self, storage: SqlStorage) -> None:
        self.storage = storage

    @classmethod
    def of(cls, storage: Storage) -> CacheStore | None:
        """The cache of *storage*, None for a storage without one."""
        return cls(storage) if isinstance(storage, SqlStorage) else None

    def lookup(self, owner: str, prekey: str) -> list[StoredRecord]:
        rows = self.storage._conn().execute(
            "SELECT c.label, c.record FROM cache_records c JOIN owners o ON o.id=c.owner_id "
            "WHERE o.name=? AND c.prekey=? ORDER BY c.stored DESC", (owner, prekey)).fetchall()
        return [StoredRecord(label=str(label), record=json.loads(text)) for label, text in rows]

    def problem(self, owner: str, label: str, record: object) -> str:
        """Why *record* cannot be stored ('' when it can)."""
        if not isinstance(record, dict):
            return "a record must be a JSON object"
        if not _hex64(record.get("prekey")) or not _hex64(record.get("key")):
            return "prekey and key must be sha256 hex digests"
        wheels = record.get("wheels")
        if not isinstance(wheels, list) or not wheels:
            return "a record names at least one wheel"
        for wheel in wheels:
            if not isinstance(wheel, dict) or not isinstance(wheel.get("filename"), str):
                return "every wheel has a filename"
            found = self.storage.find_file(owner, label, wheel["filename"])
            if found is None or found.sha256 != wheel.get("sha256") or found.size != wheel.get("size"):
                return f"{wheel['filename']} is not in {owner}/{label} with that sha256 and size"
        return ""

    def add(self, owner: str, label: str, records: list[object]) -> tuple[int, list[str]]:
        """Store the valid records (a newer one of the same key replaces the older);
        return (stored, one line per refused record)."""
        refused: list[str] = []
        good: list[dict[str, Any]] = []
        for index, record in enumerate(records):
            why = self.problem(owner, label, record)
            if why:
                refused.append(f"record {index}: {why}")
            else:
                assert isinstance(record, dict)
                good.append(record)
        with self.storage._write() as tx:
            owner_id = self.storage._owner_id(tx, owner)
            now = time.time()
            for record in good:
                tx.execute("INSERT OR REPLACE INTO cache_records(owner_id, prekey, key, label, "
                           "record, stored) VALUES (?, ?, ?, ?, ?, ?)",
                           (owner_id, record["prekey"], record["key"], label,
                            json.dumps(record, sort_keys=True), now))
        return len(good), refused

    def file_labels(self, owner: str, filename: str) -> tuple[FileRecord | None, list[str]]:
        """The owner's file of that name and the labels holding it."""
        rows = self.storage._conn().execute(
            "SELECT l.name FROM owners o JOIN files f ON f.owner_id=o.id "
            "JOIN label_files lf ON lf.file_id=f.id JOIN labels l ON l.id=lf.label_id "
            "WHERE o.name=? AND f.filename=? ORDER BY l.name", (owner, filename)).fetchall()
        labels = [str(row[0]) for row in rows]
        record = self.storage.find_file(owner, labels[0], filename) if labels else None
        return record, labels
