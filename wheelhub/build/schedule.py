"""What the prefixes (Pythons) of a run share while they build: the CPU slots, and the pure
wheels built once.

:class:`CpuSlots` is the run's ``--jobs`` budget, shared fairly: a Python that holds fewer
slots and asks for one is served first, so every Python starts on its own packages.

:class:`PureOnce`: a requirement whose whole closure came out pure (``none-any``) for one
Python is not built again for another; that Python records the same wheels. A prefix
*claims* a project before it builds it; a prefix that finds the project claimed by another
builds something else first and, when only that is left, waits for the result.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from wheelhub.build.graph import applicable, requires_dist, supports_python
from wheelhub.manifest import Entry

Claim = Literal["build", "busy"]


@dataclass(kw_only=True)
class CpuSlots:
    """The run's CPU slots; a Python asking for one while it holds fewer than another goes
    first."""

    count: int
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _held: Counter[str] = field(default_factory=Counter)
    _asking: set[str] = field(default_factory=set)

    def take(self, python: str, timeout: float) -> bool:
        """A slot for *python* within *timeout*; False: none (it stays asking)."""
        with self._changed:
            self._asking.add(python)
            if not self._changed.wait_for(lambda: self._may_take(python), timeout):
                return False
            self._asking.discard(python)
            self._held[python] += 1
            return True

    def give(self, python: str) -> None:
        with self._changed:
            self._held[python] -= 1
            self._changed.notify_all()

    def stop_asking(self, python: str) -> None:
        """*python* has nothing to start now: it no longer holds the others back."""
        with self._changed:
            self._asking.discard(python)
            self._changed.notify_all()

    def _may_take(self, python: str) -> bool:
        if sum(self._held.values()) >= self.count:
            return False
        return not any(self._held[other] < self._held[python]
                       for other in self._asking if other != python)


@dataclass(kw_only=True)
class PureOnce:
    """Which prefix builds each project, and the entries whose wheels every Python can use."""

    wheelhouse: Path
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _building: dict[str, str] = field(default_factory=dict)  # project -> the tag building it
    _pure: dict[str, Entry] = field(default_factory=dict)  # project -> a pure entry
    _claimed: set[tuple[str, str]] = field(default_factory=set)

    def claim(self, project: str, python: str) -> Claim | Entry:
        """``build`` it; ``busy`` (another Python builds it now); or the pure entry to reuse
        if its wheels serve *python* too."""
        with self._changed:
            entry = self._pure.get(project)
            if entry is not None and self._serves(entry, python):
                return entry
            if self._building.get(project, python) != python:
                return "busy"
            self._building[project] = python
            self._claimed.add((project, python))
            return "build"

    def finished(self, project: str, python: str, entry: Entry | None) -> None:
        """*python*'s build of *project* ended (None: it did not finish)."""
        with self._changed:
            if (project, python) not in self._claimed:
                return
            self._claimed.discard((project, python))
            if self._building.get(project) == python:
                del self._building[project]
            if entry is not None and entry.status == "built" and entry.wheels and all(
                    w.pure for w in entry.wheels):
                self._pure.setdefault(project, entry)
            self._changed.notify_all()

    def wait(self, timeout: float) -> None:
        """Until some build ends (or *timeout* passes)."""
        with self._changed:
            self._changed.wait(timeout)

    def _serves(self, entry: Entry, python: str) -> bool:
        """Each wheel installs on *python* and asks for the same dependencies there."""
        for wheel in entry.wheels:
            path = self.wheelhouse / wheel.filename
            requires = requires_dist(path)
            if requires is None or not supports_python(path, python):
                return False
            if applicable(requires, entry.python, set()) != applicable(requires, python, set()):
                return False
        return True
