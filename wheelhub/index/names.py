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


def check_owner(name: str) -> str:
    if not _OWNER.match(name) or name in RESERVED_OWNERS:
        raise InvalidName.for_kind(
            "owner", name, "are 1-64 lowercase letters, digits and '-', not "
            + ", ".join(sorted(RESERVED_OWNERS)))
    return name


def is_valid_label(name: str) -> bool:
    return bool(_LABEL.match(name)) and ".." not in name


def check_label(name: str) -> str:
    if not is_valid_label(name):
        raise InvalidName.for_kind(
            "label", name, f"are {LABEL_RULE} (turn a branch 'feature/x' into 'feature-x')")
    return name


def normalize_project(name: str) -> NormalizedName:
    return canonicalize_name(name)
