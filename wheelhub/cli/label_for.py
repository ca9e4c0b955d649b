"""``wheelhub label-for``: the label this checkout/CI job publishes to, and why."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from wheelhub import options as config_mod
from wheelhub.publish.labels import LabelRules, label_for, rules_from_sections

HELP_RULES = """\
label rules (wheelhub.yaml, section `labels:`):
  main_branches: [main, master]     branches that publish to main_label (alias: main)
  main_label: main
  release_tags: ['v[0-9]*', '[0-9]*.[0-9]*']   tag globs that publish to release_label
  release_label: main
  leading_digit_prefix: branch-     prepended when a sanitized name starts with a digit
  map: {develop: dev}               explicit branch -> label
The branch comes from GITHUB_HEAD_REF / GITHUB_REF_NAME, TRAVIS_PULL_REQUEST_BRANCH /
TRAVIS_TAG / TRAVIS_BRANCH, CI_COMMIT_REF_NAME, else `git rev-parse --abbrev-ref HEAD`.
"""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "label-for", help="print the label a publish from here goes to",
        description="Print why on stderr and the label alone as the last line of stdout.",
        epilog=HELP_RULES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_label_arguments(parser)
    parser.set_defaults(func=run)


def add_label_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--label", default=os.environ.get("WHEELHUB_LABEL", "auto"),
                        help="'auto' (default: from the branch) or a label name "
                        "(default from $WHEELHUB_LABEL)")
    parser.add_argument("-C", "--directory", type=Path, default=None,
                        help="the checkout to look at (default: current directory)")
    parser.add_argument("--config", type=Path, default=None,
                        help="wheelhub.yaml with a labels: section (default: ./wheelhub.yaml)")


def load_rules(args: argparse.Namespace) -> tuple[Path, LabelRules]:
    cwd = (args.directory or Path.cwd()).resolve()
    resolved = config_mod.resolve({}, env=os.environ, config_path=args.config, cwd=cwd)
    source = str(resolved.config_path or config_mod.CONFIG_FILE)
    return cwd, rules_from_sections(resolved.file_sections, source)


def run(args: argparse.Namespace) -> int:
    cwd, rules = load_rules(args)
    decision = label_for(os.environ, cwd, rules, explicit=args.label)
    print(decision.reason, file=sys.stderr)
    print(decision.label)
    return 0
