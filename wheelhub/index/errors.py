"""Errors of the index contract: names that no index of ours can use."""

from __future__ import annotations

from wheelhub.errors import UsageError


class InvalidName(UsageError):
    """An owner, label or project name that no index of ours can use (the hub answers 400)."""

    status = 400

    @classmethod
    def for_kind(cls, kind: str, name: str, rule: str) -> InvalidName:
        return cls(f"invalid {kind} name '{name}'", hint=f"{kind} names {rule}")
