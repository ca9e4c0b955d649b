"""Value types of a publish: options in, one result per file out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from wheelhub.index.urls import EXTRA_INDEX_WARNING, install_command
from wheelhub.options import default

Status = Literal["uploaded", "skipped", "conflict", "failed", "would-upload"]


@dataclass(frozen=True, kw_only=True, slots=True)
class PublishOptions:
    """Everything one publish needs. ``label`` is already resolved (see wheelhub.publish.labels);
    the defaults are the options table's (``publish.*`` in wheelhub.options)."""

    wheelhouse: Path
    to: str
    label: str
    token: str | None = field(default=None, repr=False)
    token_env: str = default("publish.token_env")  # a variable name; "": the kind's
    username: str = default("publish.username")
    kind: str = default("publish.kind")  # "auto" or a name of wheelhub.publish.kinds
    allow_untested: bool = default("publish.allow_untested")
    jobs: int = default("publish.jobs")
    retries: int = default("publish.retries")
    backoff: float = 0.5  # seconds before the first retry; doubles each time
    timeout: float = 60.0
    dry_run: bool = default("publish.dry_run")
    label_bases: tuple[str, ...] = ()  # a hub label missing so far is created on these


@dataclass(frozen=True, kw_only=True, slots=True)
class Candidate:
    """A wheel from the wheelhouse that may be published."""

    path: Path
    filename: str
    sha256: str
    size: int
    project: str  # canonical
    version: str
    # What the hub records with the upload (form fields wheelhub_*; other indexes ignore
    # them): "passed" when every build entry using the wheel passed `wheelhub test`.
    verdict: str = "untested"
    vendored: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class FileResult:
    filename: str
    project: str
    status: Status
    detail: str = ""
    attempts: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class PublishResult:
    target: str  # description, credentials masked
    kind: str
    label: str
    files: tuple[FileResult, ...]
    held_back: tuple[str, ...] = ()  # wheels the manifest does not allow publishing
    notes: tuple[str, ...] = ()
    index_url: str = ""  # where pip reads the label
    upstream: bool | None = None  # the hub serves the owner's upstream too (None: not a hub)

    def install_lines(self, project: str = "<package>") -> tuple[str, ...]:
        """The pip line for this label, and the dependency-confusion warning when pip
        needs a second index beside it."""
        command = install_command(self.index_url, project, upstream=bool(self.upstream))
        return (command,) if self.upstream else (command, EXTRA_INDEX_WARNING)

    def count(self, *statuses: Status) -> int:
        return sum(1 for f in self.files if f.status in statuses)

    @property
    def uploaded(self) -> int:
        return self.count("uploaded", "would-upload")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def failed(self) -> int:
        return self.count("failed", "conflict")

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def summary_line(self) -> str:
        return f"{self.uploaded} uploaded, {self.skipped} skipped, {self.failed} failed"

    def table(self) -> str:
        """A plain-text table, one row per file, then the summary line."""
        rows: Sequence[tuple[str, ...]] = [("file", "status", "tries", "detail")] + [
            (f.filename, f.status, str(f.attempts) if f.attempts else "-", f.detail or "")
            for f in sorted(self.files, key=lambda f: f.filename)]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        lines = ["  ".join((row[0].ljust(widths[0]), row[1].ljust(widths[1]),
                            row[2].rjust(widths[2]), row[3])).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths) + "  ------")
        return "\n".join([*lines, self.summary_line()])
