"""Errors of the index contract: names and files that no index of ours can use."""

from __future__ import annotations

from wheelhub.errors import UsageError


class InvalidName(UsageError):
    """An owner, label or project name that no index of ours can use (the hub answers 400)."""

    status = 400

    @classmethod
    def for_kind(cls, kind: str, name: str, rule: str) -> InvalidName:
        return cls(f"invalid {kind} name '{name}'", hint=f"{kind} names {rule}")


class InvalidDistribution(UsageError):
    """A file that is not a readable wheel or sdist with matching core metadata."""

    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(f"'{filename}' is not a valid distribution: {reason}",
                         hint="rebuild the file; wheel and sdist names and metadata must agree")
        self.filename = filename
        self.reason = reason
