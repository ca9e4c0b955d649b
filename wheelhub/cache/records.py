"""A cache record: one entry's keys, the inputs that made it, and its files with sha256.

No host paths: the log path and error text of the entry stay in the wheelhouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from wheelhub.manifest import Entry, TestRecord, WheelRecord

RECORDS_FILE = "wheelhub-cache.json"  # in a static tree, beside the labels
RECORDS_FORMAT = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class CacheRecord:
    prekey: str
    key: str
    project: str
    python: str
    requirement: str
    inputs: dict[str, str] = field(default_factory=dict)
    wheels: tuple[WheelRecord, ...] = ()
    duration: float = 0.0
    test: TestRecord = field(default_factory=lambda: TestRecord(status="untested"))
    label: str = ""  # the label it was published to (as the source reports it)

    @property
    def closure(self) -> list[str]:
        """The projects of its wheels: what its key's closure pins cover."""
        return [wheel.project for wheel in self.wheels]

    @classmethod
    def from_entry(cls, entry: Entry) -> CacheRecord | None:
        """The record of a good entry with wheels, None for anything else."""
        if not entry.ok or not entry.wheels or not entry.prekey:
            return None
        test = entry.test if entry.test.status == "passed" else TestRecord(status="untested")
        return cls(prekey=entry.prekey, key=entry.key, project=entry.project,
                   python=entry.python, requirement=entry.requirement, inputs=dict(entry.inputs),
                   wheels=entry.wheels, duration=entry.duration,
                   test=replace(test, detail=test.detail.split("\n", 1)[0][:200]))

    def to_entry(self, origin: str) -> Entry:
        return Entry(requirement=self.requirement, project=self.project, python=self.python,
                     key=self.key, prekey=self.prekey, status="cached", origin=origin,
                     wheels=self.wheels, inputs=dict(self.inputs), duration=self.duration,
                     test=self.test)

    def to_json(self) -> dict[str, Any]:
        data = self.to_entry("").to_json()
        return {k: data[k] for k in ("prekey", "key", "project", "python", "requirement",
                                     "inputs", "wheels", "duration", "test")}

    @classmethod
    def from_json(cls, data: Any) -> CacheRecord:
        """Raises ValueError for anything that is not a well-formed record."""
        try:
            label = str(data.get("label", ""))
            entry = Entry.from_json({k: v for k, v in data.items() if k != "label"}
                                    | {"status": "cached"})
            if not all(isinstance(w.sha256, str) and len(w.sha256) == 64
                       and isinstance(w.size, int) and "/" not in w.filename
                       and w.filename.endswith(".whl") for w in entry.wheels):
                raise ValueError("a wheel without a plain filename, sha256 and size")
            if not entry.wheels or not isinstance(entry.inputs, dict):
                raise ValueError("no wheels")
        except (TypeError, KeyError, AttributeError) as error:
            raise ValueError(f"malformed cache record: {error}") from None
        return cls(prekey=entry.prekey, key=entry.key, project=entry.project,
                   python=entry.python, requirement=entry.requirement, inputs=entry.inputs,
                   wheels=entry.wheels, duration=float(entry.duration), test=entry.test,
                   label=label)
