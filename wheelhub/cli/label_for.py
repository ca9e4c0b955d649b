"""``wheelhub label-for``: the label this checkout/CI job publishes to, and why."""

from __future__ import annotations

import argparse
import os
import sys

from wheelhub.cli.options import resolved_from_args
from wheelhub.publish.labels import label_from_config

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


HELP = "print the label a publish from here goes to"
DESCRIPTION = "Print why on stderr and the label alone as the last line of stdout."
EPILOG = HELP_RULES


def run(args: argparse.Namespace) -> int:
    decision = label_from_config(resolved_from_args(args), os.environ)
    print(decision.reason, file=sys.stderr)
    print(decision.label)
    return 0
