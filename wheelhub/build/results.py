"""Results of a build, returned by :func:`wheelhub.build.run` (the library never prints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wheelhub.manifest import Entry


@dataclass(frozen=True, kw_only=True, slots=True)
class PrefixFailure:
    python: str
    message: str
    log: str
    tail: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildResult:
    wheelhouse: Path
    entries: tuple[Entry, ...]
    prefix_failures: tuple[PrefixFailure, ...] = ()
    containers_started: int = 0
    duration: float = 0.0
    image: str = ""
    image_id: str = ""
    pruned: tuple[str, ...] = ()
    reports: dict[str, Path] = field(default_factory=dict)
    interrupted: bool = False
    to_build: int = 0  # entries this run meant to build (not cached, not skipped)
    phases: dict[str, Any] = field(default_factory=dict)  # Timings.to_json(): where time went

    @property
    def ok(self) -> bool:
        return (not self.prefix_failures and not self.interrupted
                and all(e.ok for e in self.entries))

    @property
    def failures(self) -> list[Entry]:
        """Entries that failed to build (not those a stopped run never finished)."""
        return [e for e in self.entries if e.status == "failed"]

    def count(self, status: str) -> int:
        return sum(1 for e in self.entries if e.status == status)
