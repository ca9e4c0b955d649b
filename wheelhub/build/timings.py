"""Where a build's time goes, per phase: what ``report.json`` shows under ``phases``.

Prefix phases (image start, hook, build requirements, snapshot) and entry phases
(download + isolated env + compile, i.e. ``pip wheel``; repair) are wall-clock seconds.
``cpu_seconds`` is the CPU the build steps used, read from each container's cgroup:
divided by the cores it is the floor no scheduling can beat.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

PREFIX_PHASES = ("image start", "ca", "hook", "build requirements", "snapshot")
ENTRY_PHASES = ("pip wheel", "repair")


@dataclass(frozen=True, kw_only=True, slots=True)
class PhaseTime:
    python: str
    project: str  # "" for a prefix phase
    phase: str
    seconds: float


@dataclass(kw_only=True)
class Timings:
    """Thread-safe collector: every prefix and entry thread adds to one instance."""

    records: list[PhaseTime] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # python → build-step CPU seconds
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, python: str, project: str, phase: str, seconds: float) -> None:
        with self._lock:
            self.records.append(PhaseTime(python=python, project=project, phase=phase,
                                          seconds=round(seconds, 3)))

    def add_cpu(self, python: str, seconds: float) -> None:
        with self._lock:
            self.cpu[python] = round(self.cpu.get(python, 0.0) + seconds, 3)

    @contextlib.contextmanager
    def phase(self, python: str, phase: str, project: str = "") -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.add(python, project, phase, time.monotonic() - started)

    def to_json(self) -> dict[str, Any]:
        """Per prefix, per entry, totals per phase, and the CPU floor."""
        with self._lock:
            records, cpu = list(self.records), dict(self.cpu)
        prefixes: dict[str, dict[str, float]] = {}
        entries: dict[str, dict[str, float]] = {}
        totals: dict[str, float] = {}
        for r in records:
            where = entries.setdefault(f"{r.project} {r.python}", {}) if r.project \
                else prefixes.setdefault(r.python, {})
            where[r.phase] = round(where.get(r.phase, 0.0) + r.seconds, 3)
            totals[r.phase] = round(totals.get(r.phase, 0.0) + r.seconds, 3)
        cores = os.cpu_count() or 1
        total_cpu = round(sum(cpu.values()), 3)
        return {"prefixes": prefixes, "entries": entries, "totals": totals,
                "cpu_seconds": cpu, "cores": cores,
                "floor_seconds": round(total_cpu / cores, 3)}


def cgroup_cpu_seconds(stat: str) -> float | None:
    """``usage_usec`` of a cgroup v2 ``cpu.stat`` (or v1 ``cpuacct.usage`` nanoseconds)."""
    for line in stat.splitlines():
        name, _, value = line.partition(" ")
        if name == "usage_usec" and value.strip().isdigit():
            return int(value) / 1e6
    text = stat.strip()
    return int(text) / 1e9 if text.isdigit() else None
