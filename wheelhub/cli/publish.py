"""``wheelhub publish``: put the wheelhouse's good wheels on a label of an index."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from wheelhub.cli.label_for import add_label_arguments, load_rules
from wheelhub.publish import PublishOptions, detect_kind, publish
from wheelhub.publish.labels import label_for
from wheelhub.util.log import LOGGER_NAME, PrefixRedactFilter, get_logger

EPILOG = """\
targets (--to):
  http://hub:8080/OWNER          a wheelhub hub: files go to OWNER's label
  https://devpi.example/u/dev/   any twine-compatible index (devpi, pypiserver, Artifactory,
                                 GitLab): uploaded as given, --label ignored
  https://pypi.anaconda.org/OWNER  anaconda.org via anaconda-client, files get --label
  file:///srv/index              a static PEP 503/691 tree, one subtree per label
The token is read from the environment variable named by --token-env (default
WHEELHUB_TOKEN; ANACONDA_TOKEN for anaconda.org), never from a command-line value.
The last line of output is "N uploaded, M skipped, K failed"; the exit code is 0 only
when nothing failed (1: some files failed or conflict, 2: bad input, 3: target unusable).
"""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "publish", help="upload the wheelhouse's good wheels to a label",
        description="Upload the wheels `wheelhub build` (and `wheelhub test`) passed to "
        "a label derived from the git branch; files already there are skipped.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--to", required=True,
                        help="where to publish (see below)")
    parser.add_argument("-w", "--wheelhouse", type=Path, default=Path("wheelhouse"),
                        help="the wheelhouse `wheelhub build` wrote (default: ./wheelhouse)")
    add_label_arguments(parser)
    parser.add_argument("--token-env", default=None, metavar="VAR",
                        help="environment variable holding the token (default WHEELHUB_TOKEN, "
                        "ANACONDA_TOKEN for anaconda.org)")
    parser.add_argument("--username", default="__token__",
                        help="user name sent with the token (default __token__)")
    parser.add_argument("--kind", choices=["auto", "hub", "index", "anaconda", "dir"],
                        default="auto",
                        help="target kind (default: from --to, probing for a hub)")
    parser.add_argument("--allow-untested", action="store_true",
                        help="also publish untested wheels (never failed ones)")
    parser.add_argument("-j", "--jobs", type=int, default=4, help="concurrent uploads (default 4)")
    parser.add_argument("--retries", type=int, default=3,
                        help="retries of a transient failure per file (default 3)")
    parser.add_argument("--dry-run", action="store_true",
                        help="read the target and say what would be uploaded")
    parser.set_defaults(func=run)


def _mask_in_logs(secret: str) -> None:
    for handler in logging.getLogger(LOGGER_NAME).handlers:
        for log_filter in handler.filters:
            if isinstance(log_filter, PrefixRedactFilter):
                log_filter.secrets = (*log_filter.secrets, secret)


def run(args: argparse.Namespace) -> int:
    import rich

    rich.reconfigure(stderr=True)  # twine's library reports "Uploading x" on rich's console
    cwd, rules = load_rules(args)
    decision = label_for(os.environ, cwd, rules, explicit=args.label)
    get_logger("publish").info("label: %s", decision.reason)
    kind = args.kind if args.kind != "auto" else detect_kind(args.to)
    token_env = args.token_env or ("ANACONDA_TOKEN" if kind == "anaconda" else "WHEELHUB_TOKEN")
    token = os.environ.get(token_env) or None
    if token:
        _mask_in_logs(token)
    options = PublishOptions(
        wheelhouse=(cwd / args.wheelhouse).resolve(), to=args.to, label=decision.label,
        token=token, token_env=token_env, username=args.username, kind=args.kind,
        allow_untested=args.allow_untested, jobs=max(1, args.jobs), retries=max(0, args.retries),
        dry_run=args.dry_run)
    result = publish(options)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for held in result.held_back:
        print(f"not published: {held}", file=sys.stderr)
    print(f"{result.target} -> label {result.label}")
    print(result.table())
    return 0 if result.ok else 1
