"""Pure wheels built once: a requirement whose whole closure came out pure (``none-any``)
for one Python is not built again for another; that Python records the same wheels.

The prefixes of a run share one :class:`PureOnce`. A prefix *claims* a project before it
builds it; a prefix that finds the project claimed by another builds something else first
and, when only that is left, waits for the result.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from wheelhub.build.graph import applicable, requires_dist, supports_python
from wheelhub.manifest import Entry

Claim = Literal["build", "busy"]


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
