"""``wheelhub build``: requirements → repaired manylinux wheelhouse."""

from __future__ import annotations

import argparse
import sys

from wheelhub.build.report import failure_details, render_table
from wheelhub.cli.options import build_options_from_args

HELP = "build every requirement into repaired wheels, one container per Python"
DESCRIPTION = (
    "Build ./requirements.txt (with requirements-build.txt and build-setup.sh "
    "if present) into manylinux wheels: one container per Python prefix of the image, "
    "auditwheel repair, a manifest that makes re-runs no-ops, and a report.")


def run(args: argparse.Namespace) -> int:
    from wheelhub.build.run import build

    options = build_options_from_args(args)
    result = build(options)
    print(render_table(result))
    details = failure_details(result)
    if details:
        print("\nfailures:", file=sys.stderr)
        for line in details:
            print(line, file=sys.stderr)
    print(f"report: {result.reports.get('html')} and {result.reports.get('json')}")
    return 0 if result.ok else 1
