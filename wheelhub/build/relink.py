"""A requirement whose own wheel still stands: its closure made again, nothing built.

When a pin in a requirement's dependency closure changes but none of the requirement's own
inputs does (:func:`wheelhub.build.plan.unchanged_own_wheel`), its own wheel stays; only
what is installed beside it moved. Where every dependency that wheel declares for the
Python (``Requires-Dist``, markers evaluated with the requested extras) is a requirement of
this run pinned with ``==`` to a version the dependency admits, and already built or cached
for that Python, the closure is the wheel plus those entries' closures: what
``pip wheel --constraint pins`` resolves, made on the host without a container.
Anything else (a dependency not pinned, not in the run, failed, or versions that clash)
is said in words, and pip makes the closure in the container, taking the wheel as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelhub.build.graph import applicable_requirements, requires_dist
from wheelhub.build.requirements import RequirementLine, pinned_version
from wheelhub.manifest import Entry, WheelRecord


@dataclass(frozen=True, kw_only=True, slots=True)
class Relinked:
    wheels: tuple[WheelRecord, ...]  # the own wheel first, then the dependencies' closures
    dependencies: tuple[str, ...]  # "project version" of each dependency taken from the run


def relink(line: RequirementLine, python: str, own: WheelRecord, wheelhouse: Path,
           settled: Mapping[str, Entry], lines: Mapping[str, RequirementLine]) -> Relinked | str:
    """The closure of *line*'s entry for *python*, whose own wheel is *own*, from *settled*
    (this run's final entries for that Python, by project; *lines*: the requirements by
    project); else why pip has to make it."""
    requires = requires_dist(wheelhouse / own.filename)
    if requires is None:
        return f"the metadata of {own.filename} cannot be read"
    wheels: dict[str, WheelRecord] = {canonicalize_name(own.project): own}
    taken: list[str] = []
    for requirement in applicable_requirements(requires, python,
                                               set(line.requirement.extras)):
        project = canonicalize_name(requirement.name)
        listed = lines.get(project)
        version = pinned_version(listed.requirement) if listed is not None else None
        if listed is None or version is None:
            return f"its dependency {project} is not pinned with == in the requirements"
        if not requirement.specifier.contains(version, prereleases=True):
            return f"it asks for {requirement}, the requirements pin {project}=={version}"
        if not set(map(canonicalize_name, requirement.extras)) <= set(
                map(canonicalize_name, listed.requirement.extras)):
            return f"it asks for {requirement}, the requirements line has other extras"
        entry = settled.get(project)
        if entry is None or not entry.ok or not entry.wheels:
            return f"its dependency {project} has no wheel for {python} in this run"
        for wheel in entry.wheels:
            known = wheels.setdefault(canonicalize_name(wheel.project), wheel)
            if known.filename != wheel.filename:
                return (f"the closures hold two files of {wheel.project}: "
                        f"{known.filename} and {wheel.filename}")
        if not any(canonicalize_name(w.project) == project and _version(w.version) == version
                   for w in entry.wheels):
            return f"the entry of {project} for {python} holds no {project} {version} wheel"
        taken.append(f"{project} {version}")
    return Relinked(wheels=tuple(wheels.values()), dependencies=tuple(taken))


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None
