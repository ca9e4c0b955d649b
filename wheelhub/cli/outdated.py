"""``wheelhub outdated``: which pins are behind the index; ``--bump`` rewrites them."""

from __future__ import annotations

import argparse
import json
import os
import sys

from wheelhub.cli.options import resolved_from_args
from wheelhub.util import table

HELP = "list pins that are behind the index; --bump rewrites them"
DESCRIPTION = (
    "Ask the index (PyPI, or a hub label's /simple/ URL) for every requirement of the file: "
    "the pin, the newest release, the newest whose Requires-Python accepts this Python, its "
    "date and changelog link. Uses pip's PIP_INDEX_URL, proxy and CA settings. Exit status 0: "
    "nothing outdated, 1: something is. --bump rewrites the == pins in place (same major "
    "version unless --major), keeping comments, order and markers, prints the diff and exits 0; "
    "-e, URL and unparseable lines are reported and left as they are.")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--bump", action="store_true",
                        help="rewrite outdated == pins in the requirements file, print the diff")
    parser.add_argument("--only", metavar="NAMES", default="",
                        help="with --bump: only these projects (comma-separated)")
    parser.add_argument("--major", action="store_true",
                        help="with --bump: also cross major versions")
    parser.add_argument("--dry-run", action="store_true",
                        help="with --bump: print the diff, write nothing")


def run(args: argparse.Namespace) -> int:
    from wheelhub.outdated import CheckOptions, bump, check

    config = resolved_from_args(args)
    options = CheckOptions(requirements=(config.directory / config.get("requirements")).resolve(),
                           index_url=config.get("outdated.index_url"),
                           pre=config.get("outdated.pre"), major=args.major, env=os.environ)
    report = check(options)
    for note in report.untouched:
        print(f"not checked: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        header = ["project", "current", "newest", f"newest for {report.python}", "bump to",
                  "released", "changelog / note"]
        rows = [[f.project + (" *" if f.outdated else ""), f.current, f.newest or "-",
                 f.newest_for_python or "-", f.bump_to or "-", f.released or "-",
                 f.changelog or f.note or ""] for f in report.findings]
        print("\n".join(table.render(header, rows)))
        print(f"{len(report.outdated)} of {len(report.findings)} requirement(s) outdated "
              f"(* marks them)")
    if not args.bump:
        return 1 if report.outdated else 0
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    result = bump(report, only=only, write=not args.dry_run)
    print(result.diff, end="", file=sys.stdout if not args.json else sys.stderr)
    verb = "bumped" if result.written else "would bump"
    print(f"{verb} {len(result.changed)} pin(s) in {result.path}"
          + (": " + ", ".join(result.changed) if result.changed else ""), file=sys.stderr)
    return 0
