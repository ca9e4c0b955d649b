"""The ``wheelhub`` command: a thin layer over the library.

Each subcommand lives in its own module (``wheelhub.cli.<name>``, ``_`` for ``-``), which
declares it: ``HELP`` (and ``DESCRIPTION``, ``EPILOG``), ``run(args) -> exit code`` (its
options come from :data:`wheelhub.options.OPTIONS`), and ``configure(parser)`` for
arguments of its own or subcommands. This module is the
single error boundary: a :class:`WheelhubError` becomes ``error:``/``hint:`` lines
and its exit code; a traceback only with ``--debug``. SIGTERM and SIGHUP (how CI systems
cancel a job) are handled like Ctrl-C: containers removed, finished work kept, exit 128 + N.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import Any

from wheelhub import __version__
from wheelhub.cli.options import add_options
from wheelhub.errors import Stopped, WheelhubError, stop_status
from wheelhub.util.log import get_logger, setup_logging
from wheelhub.util.redact import redact

# Subcommand modules, in the order `wheelhub --help` lists them.
COMMAND_MODULES = (
    "wheelhub.cli.build",
    "wheelhub.cli.plan",
    "wheelhub.cli.test",
    "wheelhub.cli.shell",
    "wheelhub.cli.config",
    "wheelhub.cli.label_for",
    "wheelhub.cli.publish",
    "wheelhub.cli.serve",
    "wheelhub.cli.token",
    "wheelhub.cli.label",
    "wheelhub.cli.audit",
    "wheelhub.cli.webhook",
    "wheelhub.cli.owner",
    "wheelhub.cli.db",
    "wheelhub.cli.ci",
    "wheelhub.cli.graph", "wheelhub.cli.outdated",
    "wheelhub.cli.cache",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wheelhub",
        description="Build manylinux wheels for your requirements in containers, "
        "repair them with auditwheel, and host them on a label per branch.",
    )
    parser.add_argument("--version", action="version", version=f"wheelhub {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more output (repeat for more)")
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks for errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        _register(subparsers, module_name)
    return parser


def _register(subparsers: Any, module_name: str) -> None:
    module = importlib.import_module(module_name)
    name = module_name.rsplit(".", 1)[1].replace("_", "-")
    epilog = getattr(module, "EPILOG", None)
    parser = subparsers.add_parser(
        name, help=module.HELP, description=getattr(module, "DESCRIPTION", None),
        epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter if epilog
        else argparse.HelpFormatter)
    if hasattr(module, "run"):
        add_options(parser, name)
        parser.set_defaults(func=module.run)
    if hasattr(module, "configure"):
        module.configure(parser)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    previous = _stop_on_signals()
    try:
        code: int = args.func(args)
    except WheelhubError as error:
        if args.debug:
            traceback.print_exc()
        get_logger().debug("error", exc_info=True)
        print(f"error: {redact(error.message)}", file=sys.stderr)
        if error.hint:
            print(f"hint: {redact(error.hint)}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as stop:
        name, status = stop_status(stop)
        print(f"error: interrupted ({name})", file=sys.stderr)
        return status
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        logging.shutdown()
    return code


def _stop_on_signals() -> dict[int, Any]:
    """SIGINT, SIGTERM and SIGHUP raise in the main thread once; a second signal (GitHub
    sends SIGTERM 7.5 s after SIGINT) must not cut the cleanup the first one started.
    Returns the handlers replaced (none when not on the main thread, as in embedding code)."""
    stopping = False
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, _frame: object) -> None:
        nonlocal stopping
        if stopping:
            get_logger().info("already stopping: removing containers, keeping finished work")
            return
        stopping = True
        raise Stopped(signum, signal.Signals(signum).name)

    return {signum: signal.signal(signum, handler)
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}


if __name__ == "__main__":
    sys.exit(main())
