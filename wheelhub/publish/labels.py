"""Which label a publish goes to: derived from the git branch (or CI variables) by rules.

Every branch gets its own installable set of wheels. ``label_for`` looks at the CI
environment first (GitHub Actions, Travis, GitLab), then ``git rev-parse``, and turns
the branch or tag into a label:

* a branch listed in ``main_branches`` (``main``, ``master``) -> ``main_label`` (``main``);
* a tag matching one of ``release_tags`` (globs, ``v[0-9]*`` ...) -> ``release_label``;
* a branch named in ``map`` -> its mapped label;
* anything else is sanitized: lower case, every run of characters outside
  ``[a-z0-9._]`` becomes ``-`` (``feature/x`` -> ``feature-x``), ``..`` collapses,
  leading/trailing punctuation is dropped, a leading digit gets ``leading_digit_prefix``
  (so a derived label suits anaconda.org too, whose labels start with a letter), and names
  longer than 128 characters are cut and suffixed with a hash of the branch so they stay
  unique and stable.

Every label, derived or given, must pass the one label rule of
:mod:`wheelhub.index.names` (the hub's). The rules come from the ``labels:`` section of
``wheelhub.yaml`` (see :meth:`LabelRules.from_mapping`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wheelhub.errors import ConfigError
from wheelhub.index.names import LABEL_RULE, MAX_LABEL_LENGTH, is_valid_label
from wheelhub.options import CONFIG_FILE, ResolvedConfig
from wheelhub.publish.errors import LabelError

_UNSAFE_RUN = re.compile(r"[^a-z0-9._]+")

Source = Literal["explicit", "github", "travis", "gitlab", "git"]
Rule = Literal["explicit", "main-branch", "release-tag", "mapped", "sanitized"]


@dataclass(frozen=True, kw_only=True, slots=True)
class LabelRules:
    """How refs become labels; the ``labels:`` section of ``wheelhub.yaml``."""

    main_branches: tuple[str, ...] = ("main", "master")
    main_label: str = "main"
    release_tags: tuple[str, ...] = ("v[0-9]*", "[0-9]*.[0-9]*")
    release_label: str = "main"
    leading_digit_prefix: str = "branch-"
    map: Mapping[str, str] = field(default_factory=dict)
    # Labels a new branch label falls back to on the hub (None: the main label).
    bases: tuple[str, ...] | None = None

    def bases_for(self, label: str) -> tuple[str, ...]:
        """What ``wheelhub ci`` creates *label* on: none for the main/release labels."""
        bases = self.bases if self.bases is not None else (self.main_label,)
        return () if label in {self.main_label, self.release_label, *bases} else bases

    @classmethod
    def from_mapping(cls, raw: Any, *, source: str = "wheelhub.yaml: labels") -> LabelRules:
        """Parse the YAML section; unknown keys get a "did you mean"."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{source} must be a mapping of rule: value",
                              hint="see `wheelhub label-for --help` for the keys")
        known = ("main_branches", "main_label", "release_tags", "release_label",
                 "leading_digit_prefix", "map", "bases")
        values: dict[str, Any] = {}
        for key, value in raw.items():
            name = str(key).replace("-", "_")
            name = _ALIASES.get(name, name)
            if name not in known:
                raise ConfigError.unknown_key(str(key), source, known)
            values[name] = value
        defaults = cls()
        mapping = values.get("map") or {}
        if not isinstance(mapping, Mapping):
            raise ConfigError(f"{source}.map must map branch names to labels",
                              hint="for example  map: {develop: dev}")
        rules = cls(
            main_branches=_as_tuple(values.get("main_branches", defaults.main_branches)),
            main_label=str(values.get("main_label", defaults.main_label)),
            release_tags=_as_tuple(values.get("release_tags", defaults.release_tags)),
            release_label=str(values.get("release_label", defaults.release_label)),
            leading_digit_prefix=str(values.get("leading_digit_prefix",
                                                defaults.leading_digit_prefix)),
            map={str(k): str(v) for k, v in mapping.items()},
            bases=_as_tuple(values["bases"]) if "bases" in values else None,
        )
        for name, label in (("main_label", rules.main_label),
                            ("release_label", rules.release_label),
                            *((f"map.{k}", v) for k, v in rules.map.items()),
                            *(("bases", b) for b in rules.bases or ())):
            if not is_valid_label(label):
                raise ConfigError(f"{source}.{name}: '{label}' is not a valid label",
                                  hint=f"labels are {LABEL_RULE}")
        if not re.fullmatch(r"[a-z][a-z0-9._-]*", rules.leading_digit_prefix, re.IGNORECASE):
            raise ConfigError(f"{source}.leading_digit_prefix: '{rules.leading_digit_prefix}' "
                              "must start with a letter", hint="for example  b  or  branch-")
        return rules


# Short spellings accepted in wheelhub.yaml.
_ALIASES = {"main": "main_branches", "release": "release_tags"}


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(item) for item in value)


@dataclass(frozen=True, kw_only=True, slots=True)
class Ref:
    """A branch or tag name and where it was found."""

    name: str
    is_tag: bool
    source: Source
    why: str  # e.g. "GITHUB_HEAD_REF='feature/x' (GitHub Actions pull request)"


@dataclass(frozen=True, kw_only=True, slots=True)
class LabelDecision:
    label: str
    ref: str
    is_tag: bool
    source: Source
    rule: Rule
    reason: str  # one sentence for people: where the ref came from and which rule applied


def check_label(label: str) -> str:
    """Validate a label given explicitly (``--label X``); it is not rewritten."""
    if not is_valid_label(label):
        suggestion = sanitize(label, LabelRules()) if label.strip("-./_ ") else ""
        hint = f"labels are {LABEL_RULE}" + (f"; for example '{suggestion}'" if suggestion else "")
        raise LabelError.invalid(label, hint)
    return label


def sanitize(ref: str, rules: LabelRules) -> str:
    """Turn any branch or tag name into a valid label, deterministically."""
    text = _UNSAFE_RUN.sub("-", ref.lower())
    text = re.sub(r"\.{2,}", ".", text)
    text = re.sub(r"-{2,}", "-", text)
    text = text.strip("-._")
    if text and not text[0].isalpha():
        text = rules.leading_digit_prefix + text
    if len(text) > MAX_LABEL_LENGTH:
        digest = hashlib.sha256(ref.encode()).hexdigest()[:8]
        text = text[: MAX_LABEL_LENGTH - 9].rstrip("-.") + "-" + digest
    if not is_valid_label(text):
        raise LabelError.unusable(ref, text)
    return text


def _github_tag(env: Mapping[str, str]) -> bool:
    return env.get("GITHUB_REF_TYPE") == "tag" or env.get("GITHUB_REF", "").startswith("refs/tags/")


def _never(_env: Mapping[str, str]) -> bool:
    return False


def _always(_env: Mapping[str, str]) -> bool:
    return True


@dataclass(frozen=True, kw_only=True, slots=True)
class _CiRefs:
    """Where one CI service names the ref it builds: variables in order of preference."""

    source: Source
    service: str
    running: Callable[[Mapping[str, str]], bool]
    # (variable, is the ref a tag?, what the variable names; None: "tag" or "branch")
    variables: tuple[tuple[str, Callable[[Mapping[str, str]], bool], str | None], ...]


_CI_REFS = (
    _CiRefs(source="github", service="GitHub Actions",
            running=lambda env: env.get("GITHUB_ACTIONS") == "true" or bool(env.get("GITHUB_REF_NAME")),
            variables=(("GITHUB_HEAD_REF", _never, "pull request"),
                       ("GITHUB_REF_NAME", _github_tag, None))),
    _CiRefs(source="travis", service="Travis",
            running=lambda env: env.get("TRAVIS") == "true" or bool(env.get("TRAVIS_BRANCH")),
            variables=(("TRAVIS_PULL_REQUEST_BRANCH", _never, "pull request"),
                       ("TRAVIS_TAG", _always, "tag"),
                       ("TRAVIS_BRANCH", _never, "branch"))),
    _CiRefs(source="gitlab", service="GitLab CI", running=_always,
            variables=(("CI_COMMIT_REF_NAME", lambda env: bool(env.get("CI_COMMIT_TAG")), None),)),
)


def find_ref(env: Mapping[str, str], cwd: Path) -> Ref:
    """The branch or tag being built: CI variables first, then the git checkout in *cwd*."""
    for ci in _CI_REFS:
        if not ci.running(env):
            continue
        for variable, is_tag, what in ci.variables:
            name = env.get(variable)
            if name:
                tag = is_tag(env)
                kind = what or ("tag" if tag else "branch")
                return Ref(name=name, is_tag=tag, source=ci.source,
                           why=f"{variable}='{name}' ({ci.service} {kind})")
    return _git_ref(cwd)


def _git_ref(cwd: Path) -> Ref:
    try:
        proc = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=cwd,
                              capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise LabelError.no_branch(str(cwd), f"cannot run git: {error}") from error
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["not a git checkout"])[-1]
        raise LabelError.no_branch(str(cwd), detail)
    name = proc.stdout.strip()
    if name == "HEAD":
        raise LabelError.detached(str(cwd))
    return Ref(name=name, is_tag=False, source="git",
               why=f"`git rev-parse --abbrev-ref HEAD` in {cwd} says '{name}'")


def decide(ref: Ref, rules: LabelRules) -> LabelDecision:
    """Apply the rules to a ref."""
    def made(label: str, rule: Rule, because: str) -> LabelDecision:
        return LabelDecision(label=label, ref=ref.name, is_tag=ref.is_tag, source=ref.source,
                             rule=rule, reason=f"{ref.why}; {because} -> label '{label}'")

    if ref.is_tag:
        for pattern in rules.release_tags:
            if fnmatch.fnmatchcase(ref.name, pattern):
                return made(rules.release_label, "release-tag",
                            f"tag matches release pattern '{pattern}'")
    elif ref.name in rules.main_branches:
        return made(rules.main_label, "main-branch",
                    f"'{ref.name}' is a main branch ({', '.join(rules.main_branches)})")
    if ref.name in rules.map:
        return made(rules.map[ref.name], "mapped", f"'{ref.name}' is mapped in labels.map")
    label = sanitize(ref.name, rules)
    what = "tag" if ref.is_tag else "branch"
    because = (f"{what} name is a valid label" if label == ref.name
               else f"{what} name sanitized")
    return made(label, "sanitized", because)


def label_for(env: Mapping[str, str], cwd: Path, rules: LabelRules | None = None, *,
              explicit: str | None = None) -> LabelDecision:
    """The label to publish to, with the reason. ``explicit`` (not ``auto``) wins, validated."""
    if explicit and explicit != "auto":
        label = check_label(explicit)
        return LabelDecision(label=label, ref="", is_tag=False, source="explicit",
                             rule="explicit", reason=f"label '{label}' given explicitly")
    return decide(find_ref(env, cwd), rules or LabelRules())


def rules_from_config(config: ResolvedConfig) -> LabelRules:
    """The ``labels:`` section of the resolved configuration."""
    source = str(config.config_path or CONFIG_FILE)
    return LabelRules.from_mapping(config.file_sections.get("labels"), source=f"{source}: labels")


def label_from_config(config: ResolvedConfig, env: Mapping[str, str]) -> LabelDecision:
    """The label of ``publish.label`` (``auto``: from the branch of the config's directory)."""
    return label_for(env, config.directory, rules_from_config(config),
                     explicit=config.get("publish.label"))
