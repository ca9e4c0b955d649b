"""Branch -> label rules, for each CI's variables and for a plain git checkout."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.cli import CliRunner
from wheelhub.errors import ConfigError
from wheelhub.index.errors import InvalidName
from wheelhub.index.names import check_label, is_valid_label
from wheelhub.publish.errors import LabelError
from wheelhub.publish.labels import LabelRules, find_ref, label_for, sanitize

# (case, env, expected label, expected source, expected rule)
CI_CASES: list[tuple[str, dict[str, str], str, str, str]] = [
    ("github push main", {"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "main",
                          "GITHUB_REF": "refs/heads/main", "GITHUB_REF_TYPE": "branch"},
     "main", "github", "main-branch"),
    ("github push branch", {"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "feature/x",
                            "GITHUB_REF_TYPE": "branch"}, "feature-x", "github", "sanitized"),
    ("github pull request", {"GITHUB_ACTIONS": "true", "GITHUB_HEAD_REF": "fix/Bug_12",
                             "GITHUB_REF_NAME": "12/merge"}, "fix-bug_12", "github", "sanitized"),
    ("github empty head ref", {"GITHUB_ACTIONS": "true", "GITHUB_HEAD_REF": "",
                               "GITHUB_REF_NAME": "master"}, "main", "github", "main-branch"),
    ("github release tag", {"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "v1.2.0",
                            "GITHUB_REF": "refs/tags/v1.2.0", "GITHUB_REF_TYPE": "tag"},
     "main", "github", "release-tag"),
    ("github other tag", {"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "nightly-2024",
                          "GITHUB_REF_TYPE": "tag"}, "nightly-2024", "github", "sanitized"),
    ("github branch named like a tag", {"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "v2",
                                        "GITHUB_REF_TYPE": "branch"}, "v2", "github", "sanitized"),
    ("travis branch", {"TRAVIS": "true", "TRAVIS_BRANCH": "develop",
                       "TRAVIS_PULL_REQUEST_BRANCH": ""}, "develop", "travis", "sanitized"),
    ("travis pull request", {"TRAVIS": "true", "TRAVIS_BRANCH": "main",
                             "TRAVIS_PULL_REQUEST_BRANCH": "dependabot/pip/requests-2.32"},
     "dependabot-pip-requests-2.32", "travis", "sanitized"),
    ("travis tag", {"TRAVIS": "true", "TRAVIS_BRANCH": "2.0.1", "TRAVIS_TAG": "2.0.1"},
     "main", "travis", "release-tag"),
    ("gitlab branch", {"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "123-hotfix"},
     "branch-123-hotfix", "gitlab", "sanitized"),
    ("gitlab tag", {"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "v3.0", "CI_COMMIT_TAG": "v3.0"},
     "main", "gitlab", "release-tag"),
    ("gitlab master", {"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "master"},
     "main", "gitlab", "main-branch"),
]


@pytest.mark.parametrize(("env", "label", "source", "rule"),
                         [case[1:] for case in CI_CASES], ids=[case[0] for case in CI_CASES])
def test_label_from_ci_variables(tmp_path: Path, env: dict[str, str], label: str, source: str,
                                 rule: str) -> None:
    decision = label_for(env, tmp_path, LabelRules())
    assert (decision.label, decision.source, decision.rule) == (label, source, rule)
    assert is_valid_label(decision.label)
    assert f"'{label}'" in decision.reason


SANITIZE_CASES = [
    ("feature/x", "feature-x"),
    ("Feature/X", "feature-x"),
    ("feature//x", "feature-x"),
    ("user@host:topic", "user-host-topic"),
    ("release..1", "release.1"),
    ("-leading-and-trailing-", "leading-and-trailing"),
    ("42", "branch-42"),
    ("2024.01-fix", "branch-2024.01-fix"),
    ("trailing.", "trailing"),
    ("dots.and_under", "dots.and_under"),
]


@pytest.mark.parametrize(("ref", "label"), SANITIZE_CASES)
def test_sanitize(ref: str, label: str) -> None:
    assert sanitize(ref, LabelRules()) == label
    assert sanitize(ref, LabelRules()) == sanitize(ref, LabelRules())  # stable


def test_long_branch_names_stay_unique_and_valid() -> None:
    first, second = "x" * 200 + "a", "x" * 200 + "b"
    a, b = sanitize(first, LabelRules()), sanitize(second, LabelRules())
    assert a != b
    assert len(a) <= 128 and is_valid_label(a)


@pytest.mark.parametrize("ref", ["///", "ü", "..."])
def test_branch_without_any_usable_character_is_a_clear_error(ref: str) -> None:
    with pytest.raises(LabelError, match="gives no valid label") as info:
        sanitize(ref, LabelRules())
    assert info.value.hint and "--label" in info.value.hint


def test_rules_from_wheelhub_yaml_section() -> None:
    assert LabelRules.from_mapping({"main": ["trunk"]}).main_branches == ("trunk",)  # alias
    rules = LabelRules.from_mapping({
        "main_branches": ["trunk"], "main-label": "stable", "release_tags": "rel-*",
        "release_label": "releases", "map": {"develop": "dev"}, "leading_digit_prefix": "n"})
    env_trunk = {"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "trunk"}
    assert label_for(env_trunk, Path(), rules).label == "stable"
    env_tag = {"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "rel-5", "CI_COMMIT_TAG": "rel-5"}
    assert label_for(env_tag, Path(), rules).label == "releases"
    env_dev = {"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "develop"}
    assert label_for(env_dev, Path(), rules).rule == "mapped"
    assert sanitize("9x", rules) == "n9x"
    # 'main' is no longer special with these rules
    env_main = {"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "main"}
    assert label_for(env_main, Path(), rules).rule == "sanitized"


def test_unknown_rule_key_gets_did_you_mean() -> None:
    with pytest.raises(ConfigError, match="unknown option 'main_branch'") as info:
        LabelRules.from_mapping({"main_branch": ["x"]})
    assert info.value.hint == "did you mean 'main_branches'?"


def test_invalid_configured_label_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"main_label: 'a/b' is not a valid label"):
        LabelRules.from_mapping({"main_label": "a/b"})


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=repo,
                   check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "f").write_text("x")
    _git(repo, "add", "f")
    _git(repo, "commit", "-q", "-m", "init")
    return repo


def test_git_branch_without_ci(repo: Path) -> None:
    _git(repo, "checkout", "-q", "-b", "topic/Näme")
    decision = label_for({}, repo)
    assert decision.source == "git"
    assert decision.label == "topic-n-me"


def test_detached_head_without_ci_asks_for_label(repo: Path) -> None:
    _git(repo, "checkout", "-q", "--detach")
    with pytest.raises(LabelError, match="detached HEAD") as info:
        find_ref({}, repo)
    assert "--label" in (info.value.hint or "")


def test_label_for_cli_prints_why_on_stderr_and_label_last(cli: CliRunner, repo: Path) -> None:
    result = cli("label-for", env={"GITHUB_ACTIONS": "true", "GITHUB_HEAD_REF": "feature/x"},
                 cwd=repo)
    assert result.code == 0
    assert result.out.splitlines() == ["feature-x"]
    assert "GITHUB_HEAD_REF='feature/x'" in result.err


def test_label_for_cli_reads_rules_from_wheelhub_yaml(cli: CliRunner, repo: Path) -> None:
    (repo / "wheelhub.yaml").write_text("labels:\n  map:\n    main: trunk-builds\n"
                                        "  main_branches: []\n")
    result = cli("label-for", cwd=repo)
    assert (result.code, result.last_line) == (0, "trunk-builds")


def test_label_for_cli_detached_head_error(cli: CliRunner, repo: Path) -> None:
    _git(repo, "checkout", "-q", "--detach")
    result = cli("label-for", cwd=repo)
    assert result.code == 2
    assert result.out == ""
    assert result.err.splitlines()[0].startswith("error: ")
    assert "detached HEAD" in result.err and "--label" in result.err


def test_label_for_cli_explicit_invalid_label(cli: CliRunner, repo: Path) -> None:
    result = cli("label-for", "--label", "feature/x", cwd=repo)
    assert result.code == 2
    assert "error: label 'feature/x' is not valid" in result.err
    assert "feature-x" in result.err  # the hint suggests the sanitized form


@pytest.mark.parametrize(("label", "valid"), [
    ("feature-x", True), ("2024", True), ("rc+1", True), ("a" * 128, True),
    ("../etc", False), ("a..b", False), ("-x", False), ("x-", False), ("a" * 129, False),
])
def test_explicit_labels_follow_the_hubs_rule(tmp_path: Path, label: str, valid: bool) -> None:
    hub_accepts = True
    try:
        check_label(label)  # what the hub answers 400 for
    except InvalidName:
        hub_accepts = False
    assert hub_accepts is valid
    if valid:
        assert label_for({}, tmp_path, explicit=label).label == label
    else:
        with pytest.raises(LabelError, match="is not valid"):
            label_for({}, tmp_path, explicit=label)


def test_derived_labels_still_start_with_a_letter() -> None:
    # the derivation keeps its prefix so a branch's label suits anaconda.org as well
    assert sanitize("2024-fix", LabelRules()) == "branch-2024-fix"
    assert LabelRules.from_mapping({"main_label": "2024"}).main_label == "2024"
