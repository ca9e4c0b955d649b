"""Errors of ``wheelhub test``."""

from __future__ import annotations

from collections.abc import Sequence

from wheelhub.errors import WheelhouseInputError


class VerifyInputError(WheelhouseInputError):
    """`wheelhub test` has nothing to test; nothing was started."""

    verb = "test"

    @classmethod
    def no_python(cls, selector: str, built: Sequence[str]) -> VerifyInputError:
        return cls(f"--python '{selector}' matches no Python the wheelhouse was built for "
                   f"(built: {', '.join(built) or 'none'})",
                   hint="use one of the tags listed, or 'all'")
