"""Logging with a per-task prefix, so parallel builds stay readable: ``[cp311 pyyaml] ...``.

The prefix lives in a context variable, so each thread/task sets its own without
passing loggers around. Every record passes through :func:`wheelhub.util.redact.redact`.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator

from wheelhub.util.redact import redact

LOGGER_NAME = "wheelhub"
_prefix: contextvars.ContextVar[str] = contextvars.ContextVar("wheelhub_log_prefix", default="")


def get_logger(name: str = "") -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)


@contextlib.contextmanager
def prefix(text: str) -> Iterator[None]:
    """Prefix every record logged in this context (and threads started from it with copy_context)."""
    token = _prefix.set(text)
    try:
        yield
    finally:
        _prefix.reset(token)


def current_prefix() -> str:
    return _prefix.get()


class PrefixRedactFilter(logging.Filter):
    """Adds ``[prefix]`` and masks secrets; attach to handlers, not loggers."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        pre = getattr(record, "wheelhub_prefix", None) or _prefix.get()
        if pre:
            message = f"[{pre}] {message}"
        record.msg = redact(message, self.secrets)
        record.args = None
        return True


def setup_logging(verbosity: int, *, log_file: str | None = None,
                  secrets: tuple[str, ...] = ()) -> None:
    """Console at INFO (DEBUG with -v); an optional file that always gets DEBUG."""
    root = logging.getLogger(LOGGER_NAME)
    root.setLevel(logging.DEBUG)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if verbosity > 0 else logging.INFO)
    console.setFormatter(logging.Formatter("%(message)s"))
    console.addFilter(PrefixRedactFilter(secrets))
    root.addHandler(console)
    if log_file:
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setLevel(logging.DEBUG)
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        file_handler.addFilter(PrefixRedactFilter(secrets))
        root.addHandler(file_handler)
    root.propagate = False
