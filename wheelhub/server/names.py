"""Names the hub accepts: owners, labels, projects and uploaded filenames."""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from wheelhub.errors import InvalidName, UploadRejected

_OWNER = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._+-]{0,126}[A-Za-z0-9_+])?$")
# URL path segments the hub uses itself; an owner cannot take them.
RESERVED_OWNERS = frozenset({"api", "t", "static", "simple", "health", "files", "label"})
DEFAULT_LABEL = "main"


def check_owner(name: str) -> str:
    if not _OWNER.match(name) or name in RESERVED_OWNERS:
        raise InvalidName.for_kind(
            "owner", name, "are 1-64 lowercase letters, digits and '-', not "
            + ", ".join(sorted(RESERVED_OWNERS)))
    return name


def check_label(name: str) -> str:
    if not _LABEL.match(name) or ".." in name:
        raise InvalidName.for_kind(
            "label", name, "are 1-128 letters, digits and '._+-', starting with a letter or "
            "digit (turn a branch 'feature/x' into 'feature-x')")
    return name


@dataclass(frozen=True, kw_only=True, slots=True)
class DistName:
    """What an uploaded filename says about itself."""

    filename: str
    project: NormalizedName
    version: Version
    kind: str  # "bdist_wheel" or "sdist"
    python_tags: tuple[str, ...]
    platform_tags: tuple[str, ...]


def parse_dist_filename(filename: str) -> DistName:
    """Parse a wheel or sdist filename, refusing anything that is not a plain file name."""
    if (not filename or "/" in filename or "\\" in filename or "\x00" in filename
            or filename.startswith(".") or ".." in filename or len(filename) > 255):
        raise UploadRejected.because(filename.replace("\x00", "\\0"),
                                     "the filename must be a plain file name")
    try:
        if filename.endswith(".whl"):
            name, version, _build, tags = parse_wheel_filename(filename)
            return DistName(filename=filename, project=name, version=version, kind="bdist_wheel",
                            python_tags=tuple(sorted({t.interpreter for t in tags})),
                            platform_tags=tuple(sorted({t.platform for t in tags})))
        name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename) as error:
        raise UploadRejected.because(filename, f"not a valid wheel or sdist filename ({error})") \
            from error
    return DistName(filename=filename, project=name, version=version, kind="sdist",
                    python_tags=("source",), platform_tags=("any",))


def normalize_project(name: str) -> NormalizedName:
    return canonicalize_name(name)
