"""What every publish target offers the planner."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from wheelhub.publish.model import Candidate

# filename -> sha256 (lower-case hex; "" when the index does not publish one)
Listing = Mapping[str, str]


class UploadFailedError(Exception):
    """One file did not make it. ``transient`` failures are retried with backoff."""

    def __init__(self, message: str, *, transient: bool = False, conflict: bool = False,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.conflict = conflict
        self.status = status


class Target(Protocol):
    kind: str
    description: str  # for people and logs: URL or path, credentials masked
    notes: tuple[str, ...]  # things the user should know (e.g. "--label ignored")

    def existing(self, projects: Iterable[str]) -> Listing:
        """Files already in the target label for these (canonical) projects."""

    def upload(self, candidate: Candidate) -> None:
        """Put one file there; raise UploadFailedError, or TargetAuthError for a refused token."""

    def finish(self, published: Sequence[Candidate]) -> None:
        """Called once after the uploads (the static target writes its pages here)."""

    def close(self) -> None: ...
