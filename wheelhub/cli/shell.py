"""``wheelhub shell``: an interactive shell in the build container of one Python."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

from wheelhub.build.errors import ShellError
from wheelhub.cli.options import build_options_from_args

HELP = "an interactive shell in a build container, as a build sees it"
DESCRIPTION = (
    "Open bash in the build container of one Python prefix (--python, default "
    "the first): same image, mounts, CA bundle and environment, the setup hook sourced "
    "and build requirements installed, cwd at the workspace. The container is removed "
    "when the shell exits.")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--package", metavar="NAME", default=None,
                        help="apply this requirement's recipe (env, setup) and show the pip "
                        "wheel command that builds it (also in $WHEELHUB_COMMAND)")
    parser.add_argument("--failed", action="store_true",
                        help="reopen the first failed build of the last run: its Python, image "
                        "id and recipe, and show the command that failed")


def run(args: argparse.Namespace) -> int:
    from wheelhub.build.shell import ShellRequest, open_shell

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ShellError.no_tty()
    if args.failed and args.package:
        raise ShellError("--failed and --package exclude each other",
                         hint="--failed already picks the package that failed")
    options = build_options_from_args(args)
    # A closed terminal (SIGHUP) or `kill` must still remove the container: turn them into
    # an exception so the context manager's cleanup runs.
    for signum in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, _raise_exit)
    with open_shell(options, ShellRequest(package=args.package, failed=args.failed)) as shell:
        print(f"wheelhub shell: {shell.python} in {shell.image} ({shell.image_id[:19]}), "
              f"container {shell.container[:12]}; removed on exit")
        how = ("from the prepared snapshot" if shell.from_snapshot
               else "prepared from the image; snapshot saved for next time")
        print(f"ready in {shell.ready_seconds:.1f} s ({how})")
        for note in shell.notes:
            print(f"note: {note}")
        if shell.failure:
            print(f"{shell.package} [{shell.python}] failed: {shell.failure}")
        if shell.command:
            what = "the command that failed" if args.failed else f"builds {shell.package} with"
            print(f"{what} (in {shell.command_workdir}; also $WHEELHUB_COMMAND):")
            print(f"  {shell.command}")
        if shell.history:
            print("in the shell's history (arrow-up), as the build ran them; what they "
                  "write stays in the container, never in the wheelhouse:")
            for line in shell.history:
                print(f"  {line}")
        if shell.source_dir:
            print(f"sdist unpacked in {shell.source_dir} (the shell starts there)")
        sys.stdout.flush()
        env = {**os.environ, **shell.env}
        return subprocess.call(shell.exec_argv, env=env)


def _raise_exit(signum: int, _frame: object) -> None:
    # Once: further signals (a terminal sends SIGHUP then SIGINT) must not cut the cleanup.
    for other in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(other, signal.SIG_IGN)
    raise SystemExit(128 + signum)
