"""``wheelhub publish``: put the wheelhouse's good wheels on a label of an index."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from wheelhub.cli.options import resolved_from_args
from wheelhub.publish import publish
from wheelhub.publish.kinds import KINDS
from wheelhub.publish.settings import publish_options
from wheelhub.util.log import LOGGER_NAME, PrefixRedactFilter


def _epilog() -> str:
    width = max(len(kind.example) for kind in KINDS) + 2
    names = max(len(kind.name) for kind in KINDS) + 2
    rows = [f"  {kind.example:<{width}}{kind.name:<{names}}{kind.summary}" for kind in KINDS]
    variables: dict[str, list[str]] = {}
    for kind in KINDS:
        if kind.token_env:
            variables.setdefault(kind.token_env, []).append(kind.name)
    defaults = "; ".join(f"{variable} for {' and '.join(kinds)}"
                         for variable, kinds in variables.items())
    return "\n".join([
        "targets (--to; --kind skips the guessing):", *rows,
        "The token is read from the environment variable named by --token-env (default:",
        f"{defaults}), never from a command-line value.",
        'The last line of output is "N uploaded, M skipped, K failed"; the exit code is 0 only',
        "when nothing failed (1: some files failed or conflict, 2: bad input, 3: target unusable).",
    ])


HELP = "upload the wheelhouse's good wheels to a label"
DESCRIPTION = (
    "Upload the wheels `wheelhub build` (and `wheelhub test`) passed to "
    "a label derived from the git branch; files already there are skipped.")
EPILOG = _epilog()


def mask_in_logs(secret: str | None) -> None:
    """Keep a token out of the log file and -v output, whatever prints it."""
    if not secret:
        return
    for handler in logging.getLogger(LOGGER_NAME).handlers:
        for log_filter in handler.filters:
            if isinstance(log_filter, PrefixRedactFilter):
                log_filter.secrets = (*log_filter.secrets, secret)


def run(args: argparse.Namespace) -> int:
    import rich

    rich.reconfigure(stderr=True)  # twine's library reports "Uploading x" on rich's console
    _decision, options = publish_options(resolved_from_args(args), os.environ)
    mask_in_logs(options.token)
    result = publish(options)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for held in result.held_back:
        print(f"not published: {held}", file=sys.stderr)
    print(f"{result.target} -> label {result.label}")
    print(result.table())
    return 0 if result.ok else 1
