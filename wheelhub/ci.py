"""``wheelhub ci``: build → test → publish to the branch's label, one command for any CI.

Stages report through a callback (``on_stage``) so the CLI can fold log sections for
GitHub Actions (``::group::``) and Travis (``travis_fold``); the library never prints.
What passed is published even when something failed (unless ``publish_on_failure`` is
off), and the result says whether the whole run is green.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wheelhub.build.results import BuildResult
from wheelhub.errors import UsageError
from wheelhub.options import BuildOptions, TestOptions
from wheelhub.publish import PublishResult
from wheelhub.publish.labels import LabelDecision, LabelRules, label_for
from wheelhub.util.log import get_logger
from wheelhub.verify.results import TestResult

logger = get_logger("ci")

StageCallback = Callable[[str, bool], None]  # (stage name, starting?)


@dataclass(frozen=True, kw_only=True, slots=True)
class CiOptions:
    build: BuildOptions
    test: TestOptions | None  # None: skip `wheelhub test`
    to: str
    label: str | None = None  # None or "auto": from the branch
    label_rules: LabelRules = field(default_factory=LabelRules)
    token_env: str | None = None
    allow_untested: bool = False
    publish_on_failure: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class CiResult:
    label: LabelDecision
    build: BuildResult
    test: TestResult | None = None  # None when tests were skipped
    publish: PublishResult | None = None
    publish_skipped_reason: str = ""

    @property
    def ok(self) -> bool:
        test_ok = self.test is None or self.test.ok
        publish_ok = self.publish is not None and self.publish.ok
        return self.build.ok and test_ok and publish_ok


def token_env_for(to: str, explicit: str | None) -> str:
    from wheelhub.publish import detect_kind

    if explicit:
        return explicit
    return "ANACONDA_TOKEN" if detect_kind(to) == "anaconda" else "WHEELHUB_TOKEN"


def check_token(to: str, token_env: str, env: Mapping[str, str]) -> str | None:
    """The token, or a clear error in CI where a remote target needs one."""
    from wheelhub.publish import detect_kind

    token = env.get(token_env) or None
    if token is None and detect_kind(to) != "dir" and env.get("CI"):
        raise UsageError(f"no token for {to}: ${token_env} is not set in this CI job",
                         hint=f"add a repository secret and expose it as {token_env} "
                         "(see .github/workflows/wheels.yml), or pass --token-env VAR")
    return token


def run_ci(options: CiOptions, *, env: Mapping[str, str], cwd: Path,
           on_stage: StageCallback = lambda _name, _start: None) -> CiResult:
    from wheelhub.build.run import build
    from wheelhub.publish import PublishOptions, publish

    # Decide the label and find the token before spending minutes on a build.
    decision = label_for(env, cwd, options.label_rules, explicit=options.label)
    logger.info("label: %s", decision.reason)
    token_env = token_env_for(options.to, options.token_env)
    token = check_token(options.to, token_env, env)

    on_stage("build", True)
    try:
        built = build(options.build)
    finally:
        on_stage("build", False)

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
        return CiResult(label=decision, build=built, test=tested,
                        publish_skipped_reason="not published: the build or tests failed "
                        "and --no-publish-on-failure is set")
    on_stage("publish", True)
    try:
        published = publish(PublishOptions(
            wheelhouse=options.build.wheelhouse, to=options.to, label=decision.label,
            token=token, token_env=token_env,
            allow_untested=options.allow_untested or options.test is None))
    finally:
        on_stage("publish", False)
    return CiResult(label=decision, build=built, test=tested, publish=published)


def markdown_summary(result: CiResult, *, index_url: str | None) -> str:
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
    elif result.publish_skipped_reason:
        lines.append(result.publish_skipped_reason)
    if index_url:
        lines += ["", "```", f"pip install --extra-index-url {index_url} <package>", "```"]
    return "\n".join(lines) + "\n"


def index_url_for(to: str, label: str) -> str | None:
    """The pip index URL of a hub or static target's label (None for other targets)."""
    from wheelhub.publish import detect_kind

    kind = detect_kind(to)
    base = to.rstrip("/")
    if kind == "dir":
        return f"{base}/{label}/simple/"
    if kind == "anaconda":
        return f"{base.replace('//anaconda.org', '//pypi.anaconda.org')}/label/{label}/simple/"
    return f"{base}/label/{label}/simple/"
