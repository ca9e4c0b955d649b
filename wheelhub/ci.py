"""``wheelhub ci``: build → test → publish to the branch's label, one command for any CI.

Stages report through a callback (``on_stage``) so the CLI can fold log sections for
GitHub Actions (``::group::``) and Travis (``travis_fold``); the library never prints.
What passed is published even when something failed (unless ``publish_on_failure`` is
off), and the result says whether the whole run is green.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from wheelhub.build.results import BuildResult
from wheelhub.errors import UsageError
from wheelhub.options import BuildOptions, TestOptions
from wheelhub.publish import PublishOptions, PublishResult
from wheelhub.publish.kinds import target_kind
from wheelhub.publish.labels import LabelDecision
from wheelhub.util.log import get_logger
from wheelhub.verify.results import TestResult

logger = get_logger("ci")

StageCallback = Callable[[str, bool], None]  # (stage name, starting?)


@dataclass(frozen=True, kw_only=True, slots=True)
class CiOptions:
    """The three stages' options; label and token are decided before the build
    (:func:`wheelhub.publish.settings.publish_options`)."""

    build: BuildOptions
    test: TestOptions | None  # None: skip `wheelhub test`
    label: LabelDecision
    publish: PublishOptions  # its wheelhouse is the build's
    publish_on_failure: bool = True
    merge: bool = False  # gather the label's entries from the target's cache; build nothing


@dataclass(frozen=True, kw_only=True, slots=True)
class CiResult:
    label: LabelDecision
    build: BuildResult
    test: TestResult | None = None  # None when tests were skipped
    publish: PublishResult | None = None
    publish_skipped_reason: str = ""
    build_only: bool = False  # a merge, or an empty shard: nothing to test or publish

    @property
    def ok(self) -> bool:
        if self.build_only:
            return self.build.ok
        test_ok = self.test is None or self.test.ok
        publish_ok = self.publish is not None and self.publish.ok
        return self.build.ok and test_ok and publish_ok


def check_token(options: PublishOptions, env: Mapping[str, str]) -> None:
    """In CI, a target that takes a token must have one before minutes go into a build."""
    if options.token is None and target_kind(options.kind, options.to).token_env and env.get("CI"):
        raise UsageError(f"no token for {options.to}: ${options.token_env} is not set in this "
                         "CI job", hint=f"add a repository secret and expose it as "
                         f"{options.token_env} (see .github/workflows/wheels.yml), or pass "
                         "--token-env VAR")


def with_target_cache(build: BuildOptions, publish: PublishOptions) -> BuildOptions:
    """*build* reading the cache of the hub or static tree it publishes to (first, before
    any --cache-from); a twine index or anaconda.org has none."""
    kind = target_kind(publish.kind, publish.to).name
    if kind == "index" and publish.kind == "auto":
        from wheelhub.publish.index import probe_hub

        kind = "hub" if probe_hub(publish.to, publish.label, publish.token) else kind
    if kind not in {"hub", "dir"} or publish.to in build.cache_from:
        return build
    return dataclasses.replace(build, cache_from=(publish.to, *build.cache_from),
                               cache_token=build.cache_token or publish.token,
                               cache_token_env=publish.token_env or build.cache_token_env)


def merge_shards(options: CiOptions) -> CiResult:
    """The last job of a sharded run: every entry of the plan from the label's records."""
    from wheelhub.build.run import build

    merging = dataclasses.replace(with_target_cache(options.build, options.publish), shard="")
    if options.publish.to not in merging.cache_from:
        raise UsageError(f"--merge reads the cache records of {options.publish.to}, which has none",
                         hint="merge shards published to a wheelhub hub or a file:// tree")
    built = build(merging, merge_label=options.label.label)
    return CiResult(label=options.label, build=built, build_only=True,
                    publish_skipped_reason=f"merge: {built.count('cached')} entries gathered "
                    f"from label '{options.label.label}', {built.count('failed')} missing")


def run_ci(options: CiOptions, *, env: Mapping[str, str],
           on_stage: StageCallback = lambda _name, _start: None) -> CiResult:
    from wheelhub.build.run import build
    from wheelhub.publish import publish

    check_token(options.publish, env)
    if options.merge:
        return merge_shards(options)

    on_stage("build", True)
    try:
        built = build(options.build)
    finally:
        on_stage("build", False)
    if not built.entries:
        return CiResult(label=options.label, build=built, build_only=True,
                        publish_skipped_reason=f"nothing to do in shard {options.build.shard}")

    tested = None
    if options.test is not None:
        from wheelhub.verify.run import test_wheelhouse

        on_stage("test", True)
        try:
            tested = test_wheelhouse(options.test)
        finally:
            on_stage("test", False)

    failed = not built.ok or (tested is not None and not tested.ok)
    if failed and not options.publish_on_failure:
        return CiResult(label=options.label, build=built, test=tested,
                        publish_skipped_reason="not published: the build or tests failed "
                        "and --no-publish-on-failure is set")
    on_stage("publish", True)
    try:
        untested_too = options.publish.allow_untested or options.test is None
        published = publish(dataclasses.replace(options.publish, allow_untested=untested_too))
    finally:
        on_stage("publish", False)
    return CiResult(label=options.label, build=built, test=tested, publish=published)


def markdown_summary(result: CiResult) -> str:
    """The Markdown written to ``$GITHUB_STEP_SUMMARY``."""
    from wheelhub.build.report import summary_line, summary_rows

    header, rows = summary_rows(result.build)
    lines = [f"## wheelhub: label `{result.label.label}`", "", result.label.reason, "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", summary_line(result.build)]
    if result.test is not None:
        lines.append(f"Tests: {'passed' if result.test.ok else 'FAILED'}")
    if result.publish is not None:
        lines.append(f"Publish: {result.publish.summary_line()}")
        command, *warning = result.publish.install_lines()
        lines += ["", "```", command, "```", *warning]
    elif result.publish_skipped_reason:
        lines.append(result.publish_skipped_reason)
    return "\n".join(lines) + "\n"
