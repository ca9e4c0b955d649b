"""``wheelhub test``: install the wheelhouse into clean runtime containers and import it."""

from __future__ import annotations

import argparse
import os
import sys

from wheelhub.cli.options import resolved_from_args
from wheelhub.options import BuildOptions

HELP = "install and import every built wheel in a clean runtime container"
DESCRIPTION = (
    "For each Python of the wheelhouse, start a runtime container without "
    "compilers, -dev libraries or network (--runtime-image), install each requirement "
    "from the wheelhouse only, import every top-level module of its wheels and run the "
    "recipe's `test` command. Verdicts go into the manifest (publish refuses untested "
    "wheels) and the build report. Exit status 1 if anything failed.")


def run(args: argparse.Namespace) -> int:
    from wheelhub.options import TestOptions
    from wheelhub.verify.report import failure_details, render_table
    from wheelhub.verify.run import test_wheelhouse

    config = resolved_from_args(args)
    build = BuildOptions.from_config(config, cwd=config.directory, env=os.environ)
    result = test_wheelhouse(TestOptions.from_config(config, build))
    details = failure_details(result)
    if details:
        print("failures:", file=sys.stderr)
        for line in details:
            print(line, file=sys.stderr)
    print(render_table(result))
    return 0 if result.ok else 1
