"""The root of wheelhub's exception tree, and the errors every stage shares.

Every error carries an exit code and, where there is one, advice on what to do
next. The CLI prints ``error: <message>`` and ``hint: <hint>``; the library never
prints. Each subsystem defines its own errors beside its code (``wheelhub.<stage>.errors``),
all under :class:`WheelhubError`; build them through the factory classmethods so
messages stay uniform.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar


class WheelhubError(Exception):
    """Base of every error a user should see as one line, not a traceback."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(WheelhubError):
    """Bad input from the user: files, options, selectors. Nothing was done."""

    exit_code = 2


class ConfigError(UsageError):
    """An invalid or unknown configuration value."""

    @classmethod
    def unknown_key(cls, key: str, source: str, known: Sequence[str]) -> ConfigError:
        return cls(f"{source}: unknown option '{key}'",
                   hint=did_you_mean(key, known, f"known keys: {', '.join(sorted(known))}"))


class Interrupted(WheelhubError):
    """A run stopped by a signal; its exit status is 128 + the signal's number."""

    exit_code = 130

    @classmethod
    def after(cls, signal_name: str, status: int, *, done: int, total: int,
              wheelhouse: str) -> Interrupted:
        return cls(f"interrupted ({signal_name}) after {done} of {total} entries: containers "
                   f"removed; finished wheels and the manifest were kept in {wheelhouse}",
                   hint=f"run the same command again: it builds the {total - done} unfinished "
                   "entries", exit_code=status)


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a CI cancelling the job, a closed terminal) raised in the main
    thread: a KeyboardInterrupt, so every Ctrl-C cleanup path handles it too."""

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(name)
        self.signum = signum
        self.name = name


def stop_status(stop: KeyboardInterrupt) -> tuple[str, int]:
    """The signal's name and the exit status of a run it stopped (Ctrl-C: SIGINT, 130)."""
    if isinstance(stop, Stopped):
        return stop.name, 128 + stop.signum
    return "SIGINT", 130


class WheelhouseInputError(UsageError):
    """The wheelhouse a command reads is missing or holds nothing for it; nothing was done.

    Subclasses name the command (``verb``) in the message.
    """

    verb: ClassVar[str] = "use"

    @classmethod
    def missing_wheelhouse(cls, path: str) -> WheelhouseInputError:
        return cls(f"wheelhouse '{path}' does not exist",
                   hint="run `wheelhub build` first, or pass -w DIR")

    @classmethod
    def empty(cls, path: str) -> WheelhouseInputError:
        return cls(f"wheelhouse '{path}' has no built wheels to {cls.verb}",
                   hint=f"run `wheelhub build` first; {cls.verb} reads its wheelhub-manifest.json")


def did_you_mean(name: str, known: Iterable[str], otherwise: str) -> str:
    """The hint for an unknown *name*: the closest of *known*, else *otherwise*."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean '{close[0]}'?" if close else otherwise
