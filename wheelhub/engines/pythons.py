"""Selecting Python prefixes (``/opt/python/<tag>``) by tag, ``all``, or glob."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass

from wheelhub.engines.errors import PythonSelectionError

_PREFIX = re.compile(r"^(?P<impl>cp|pp)(?P<major>\d)(?P<minor>\d+)(?P<suffix>t?)-")


@dataclass(frozen=True, kw_only=True, slots=True, order=True)
class PythonPrefix:
    """One interpreter prefix in the build environment, e.g. ``/opt/python/cp311-cp311``."""

    tag: str  # cp311, cp313t, pp310
    path: str  # /opt/python/cp311-cp311

    @property
    def interpreter(self) -> str:
        return f"{self.path}/bin/python"

    @property
    def version(self) -> str:
        match = _PREFIX.match(self.path.rsplit("/", 1)[-1] + "-")
        return f"{match['major']}.{match['minor']}" if match else ""

    @classmethod
    def from_dir_name(cls, root: str, name: str) -> PythonPrefix | None:
        match = _PREFIX.match(name if "-" in name else name + "-")
        if not match:
            return None
        # Free-threaded builds carry the "t" in the ABI part: cp313-cp313t.
        threaded = "t" if match["suffix"] or name.rsplit("-", maxsplit=1)[-1].endswith("t") else ""
        tag = f"{match['impl']}{match['major']}{match['minor']}{threaded}"
        return cls(tag=tag, path=f"{root.rstrip('/')}/{name}")


def prefixes_from_listing(root: str, names: Sequence[str]) -> list[PythonPrefix]:
    found = (PythonPrefix.from_dir_name(root, name) for name in names)
    return sorted((p for p in found if p is not None), key=lambda p: _sort_key(p.tag))


def _sort_key(tag: str) -> tuple[str, int, int, str]:
    match = re.match(r"([a-z]+)(\d)(\d+)(t?)", tag)
    if not match:
        return (tag, 0, 0, "")
    return (match[1], int(match[2]), int(match[3]), match[4])


def select_pythons(selector: str, available: Sequence[PythonPrefix], *,
                   image: str) -> list[PythonPrefix]:
    """Match a comma-separated selector (tags, ``all``, globs) against *available*.

    Free-threaded builds (``cp313t``) are only picked by ``all`` or an explicit match
    of their tag, never by ``cp313``.
    """
    chosen: list[PythonPrefix] = []
    for part in (s.strip() for s in selector.split(",")):
        if not part:
            continue
        if part == "all":
            matches = list(available)
        else:
            matches = [p for p in available
                       if (fnmatch.fnmatchcase(p.tag, part)
                           or fnmatch.fnmatchcase(p.path.rsplit("/", 1)[-1], part))
                       and (not p.tag.endswith("t") or part.endswith("t"))]
        if not matches:
            raise PythonSelectionError.no_match(part, image, [p.tag for p in available])
        chosen.extend(m for m in matches if m not in chosen)
    if not chosen:
        raise PythonSelectionError.no_match(selector, image, [p.tag for p in available])
    return sorted(chosen, key=lambda p: _sort_key(p.tag))
