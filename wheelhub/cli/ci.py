"""``wheelhub ci``: build → test → publish with the label from the branch."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from wheelhub.cli.options import add_build_options, build_options_from_args, resolved_from_args
from wheelhub.errors import UsageError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "ci", help="build, test and publish to the branch's label: one command for any CI",
        description="Build every requirement, test the wheels in a clean container, and "
        "publish what passed to the label derived from the branch (GitHub Actions, Travis, "
        "GitLab, or git). Exit status is non-zero if anything failed, after publishing what "
        "passed. Writes a Markdown summary to $GITHUB_STEP_SUMMARY when set.")
    add_build_options(parser)
    parser.add_argument("--to", default=None,
                        help="publish target (hub URL with owner, twine index, anaconda.org, "
                        "file://); default $WHEELHUB_HUB or wheelhub.yaml publish.to")
    parser.add_argument("--label", default=None,
                        help="'auto' (default: from the branch) or a label name")
    parser.add_argument("--token-env", default=None, metavar="VAR",
                        help="environment variable holding the upload token "
                        "(default WHEELHUB_TOKEN; ANACONDA_TOKEN for anaconda.org)")
    parser.add_argument("--skip-tests", action="store_true",
                        help="do not run `wheelhub test` (publishes untested wheels)")
    parser.add_argument("--allow-untested", action="store_true",
                        help="publish wheels without a test result too")
    parser.add_argument("--no-publish-on-failure", dest="publish_on_failure",
                        action="store_false",
                        help="publish nothing if any build or test failed "
                        "(default: publish what passed, then exit non-zero)")
    parser.set_defaults(func=run)


class _Folds:
    """Log folding for the CI we run in."""

    def __init__(self, env: dict[str, str]) -> None:
        self.github = env.get("GITHUB_ACTIONS") == "true"
        self.travis = env.get("TRAVIS") == "true"

    def __call__(self, stage: str, start: bool) -> None:
        if self.github:
            print(f"::group::wheelhub {stage}" if start else "::endgroup::", flush=True)
        elif self.travis:
            print(f"travis_fold:{'start' if start else 'end'}:wheelhub_{stage}", flush=True)
        elif start:
            print(f"== {stage}", flush=True)


def run(args: argparse.Namespace) -> int:
    from wheelhub.build.report import failure_details, render_table
    from wheelhub.ci import CiOptions, index_url_for, markdown_summary, run_ci
    from wheelhub.options import TestOptions
    from wheelhub.publish.labels import rules_from_sections
    from wheelhub.verify.report import render_table as render_test_table

    env = dict(os.environ)
    resolved = resolved_from_args(args)
    publish_section = resolved.file_sections.get("publish") or {}
    to = args.to or env.get("WHEELHUB_HUB") or (
        publish_section.get("to") if isinstance(publish_section, dict) else None)
    if not to:
        raise UsageError("wheelhub ci needs a target: --to URL, $WHEELHUB_HUB, or "
                         "publish.to in wheelhub.yaml",
                         hint="for the embedded hub: --to http://HOST:8080/OWNER")
    build_options = build_options_from_args(args)
    options = CiOptions(
        build=build_options, to=to, label=args.label,
        test=None if args.skip_tests else TestOptions.from_config(resolved, build_options),
        label_rules=rules_from_sections(resolved.file_sections,
                                        str(resolved.config_path or "wheelhub.yaml")),
        token_env=args.token_env, allow_untested=args.allow_untested, publish_on_failure=args.publish_on_failure)
    result = run_ci(options, env=env, cwd=Path.cwd(), on_stage=_Folds(env))
    print(render_table(result.build))
    for line in failure_details(result.build):
        print(line, file=sys.stderr)
    if result.test is not None:
        print(render_test_table(result.test))
    if result.publish is not None:
        print(f"{result.publish.target} -> label {result.publish.label}")
        print(result.publish.table())
    elif result.publish_skipped_reason:
        print(result.publish_skipped_reason, file=sys.stderr)
    index = index_url_for(to, result.label.label)
    summary_file = env.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with Path(summary_file).open("a", encoding="utf-8") as handle:
            handle.write(markdown_summary(result, index_url=index))
    if index and result.publish is not None:
        print(f"\npip install --extra-index-url {index} <package>")
    return 0 if result.ok else 1
