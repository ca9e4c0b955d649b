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
from dataclasses import dataclass
from typing import Any

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
    """The build cache records of a :class:`Storage`: what they must name, checked here;
    stored and found through the storage's cache methods."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def lookup(self, owner: str, prekey: str) -> list[StoredRecord]:
        return [StoredRecord(label=label, record=json.loads(text))
                for label, text in self.storage.cache_records(owner, prekey)]

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
        self.storage.store_cache_records(owner, label, [
            (record["prekey"], record["key"], json.dumps(record, sort_keys=True))
            for record in good])
        return len(good), refused

    def file_labels(self, owner: str, filename: str) -> tuple[FileRecord | None, list[str]]:
        """The owner's file of that name and the labels holding it."""
        labels = self.storage.file_labels(owner, filename)
        record = self.storage.find_file(owner, labels[0], filename) if labels else None
        return record, labels
