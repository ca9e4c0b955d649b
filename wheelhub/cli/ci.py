"""``wheelhub ci``: build → test → publish with the label from the branch."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from wheelhub.cli.options import resolved_from_args
from wheelhub.cli.publish import mask_in_logs

HELP = "build, test and publish to the branch's label: one command for any CI"
DESCRIPTION = (
    "Build every requirement, test the wheels in a clean container, and "
    "publish what passed to the label derived from the branch (GitHub Actions, Travis, "
    "GitLab, or git). Exit status is non-zero if anything failed, after publishing what "
    "passed. Writes a Markdown summary to $GITHUB_STEP_SUMMARY when set.")


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
    from wheelhub.ci import CiOptions, markdown_summary, run_ci, with_target_cache
    from wheelhub.options import BuildOptions, TestOptions
    from wheelhub.publish.settings import publish_options
    from wheelhub.verify.report import render_table as render_test_table

    env = dict(os.environ)
    config = resolved_from_args(args)
    label, publishing = publish_options(config, env)  # before minutes go into a build
    mask_in_logs(publishing.token)
    build = BuildOptions.from_config(config, cwd=config.directory, env=env)
    if config.get("ci.cache_from_target") and not config.get("ci.merge"):
        build = with_target_cache(build, publishing)
    options = CiOptions(
        build=build, label=label, publish=publishing,
        test=None if config.get("ci.skip_tests") else TestOptions.from_config(config, build),
        publish_on_failure=config.get("ci.publish_on_failure"), merge=config.get("ci.merge"))
    result = run_ci(options, env=env, on_stage=_Folds(env))
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
    summary_file = env.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with Path(summary_file).open("a", encoding="utf-8") as handle:
            handle.write(markdown_summary(result))
    if result.publish is not None:
        print("\n" + "\n".join(result.publish.install_lines()))
    return 0 if result.ok else 1
