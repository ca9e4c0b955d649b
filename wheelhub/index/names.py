"""The rules for names on every index of ours: owners, labels, projects.

One label rule for the hub, label derivation and the static target; anaconda.org's
stricter rule (a letter first) is applied on top by the anaconda target alone.
"""

from __future__ import annotations

import re

from packaging.utils import NormalizedName, canonicalize_name

from wheelhub.index.errors import InvalidName

_OWNER = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
MAX_LABEL_LENGTH = 128
_LABEL = re.compile(rf"^[A-Za-z0-9](?:[A-Za-z0-9._+-]{{0,{MAX_LABEL_LENGTH - 2}}}[A-Za-z0-9_+])?$")
# The label rule in words, for the hub's 400 and publish's usage error.
LABEL_RULE = "1-128 letters, digits and '._+-', starting with a letter or digit"
# URL path segments the hub uses itself; an owner cannot take them.
RESERVED_OWNERS = frozenset({"api", "t", "static", "simple", "health", "files", "label"})
DEFAULT_LABEL = "main"
# PEP 508 / core metadata: what a project's Name may be. Anything else (a ``javascript:``
# name, markup) is refused at upload, so no page ever links to it.
_PROJECT = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
MAX_PROJECT_LENGTH = 200


def is_valid_owner(name: str) -> bool:
    return bool(_OWNER.fullmatch(name)) and name not in RESERVED_OWNERS


def check_owner(name: str) -> str:
    if not is_valid_owner(name):
        raise InvalidName.for_kind(
            "owner", name, "are 1-64 lowercase letters, digits and '-', not "
            + ", ".join(sorted(RESERVED_OWNERS)))
    return name


def is_valid_label(name: str) -> bool:
    return bool(_LABEL.fullmatch(name)) and ".." not in name


def check_label(name: str) -> str:
    if not is_valid_label(name):
        raise InvalidName.for_kind(
            "label", name, f"are {LABEL_RULE} (turn a branch 'feature/x' into 'feature-x')")
    return name


def is_valid_project(name: str) -> bool:
    return len(name) <= MAX_PROJECT_LENGTH and bool(_PROJECT.fullmatch(name))


def check_project(name: str) -> str:
    if not is_valid_project(name):
        raise InvalidName.for_kind(
            "project", name, f"are 1-{MAX_PROJECT_LENGTH} ASCII letters, digits and '._-', "
            "starting and ending with a letter or digit (PEP 508)")
    return name


def normalize_project(name: str) -> NormalizedName:
    return canonicalize_name(name)
