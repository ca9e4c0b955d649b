"""What ``wheelhub test`` found: a verdict per requirement x Python."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from wheelhub.manifest import TestStatus


@dataclass(frozen=True, kw_only=True, slots=True)
class PackageTest:
    """The verdict for one requirement × Python."""

    project: str
    python: str
    status: TestStatus
    detail: str = ""
    image: str = ""
    image_id: str = ""
    log: str = ""  # relative to the wheelhouse
    duration: float = 0.0

    @property
    def summary(self) -> str:
        return self.detail.split("\n", 1)[0]


@dataclass(frozen=True, kw_only=True, slots=True)
class TestResult:
    __test__: ClassVar[bool] = False

    wheelhouse: Path
    results: tuple[PackageTest, ...]
    duration: float = 0.0
    containers_started: int = 0
    reports: tuple[Path, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(r.status == "failed" for r in self.results)

    @property
    def failures(self) -> list[PackageTest]:
        return [r for r in self.results if r.status == "failed"]

    def count(self, status: TestStatus) -> int:
        return sum(1 for r in self.results if r.status == status)
