"""What to build: one planned entry per requirement × Python, with its cache verdict.

The cache keys on inputs: the requirement, the pins of every project in its last
known dependency closure, the Python tag, the image id, the setup hook, build
requirements, recipes and build options. A re-run with unchanged inputs finds every
key in the manifest (and every wheel intact on disk) and plans no work at all.

A fresh machine has no last closure, so a remote cache is looked up in two steps: the
*pre-key* (the same inputs without the closure: what any machine can compute) finds
candidate records; each candidate's key is then recomputed from its recorded closure and
*this* machine's pins (:meth:`Keys.matches`), so a changed pin misses exactly for the
entries whose closure holds that project, as it does locally.

A miss whose *own* inputs are unchanged (only the pin of a project in its closure moved)
keeps its own wheel (:attr:`PlannedEntry.own_wheel`): like pip's and uv's wheel caches, a
wheel is taken as a function of its sdist and build settings, never of its dependencies'
runtime pins, so only its closure is made again (:mod:`wheelhub.build.relink`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from wheelhub.build.requirements import RequirementLine, RequirementSet
from wheelhub.engines.pythons import PythonPrefix, select_pythons
from wheelhub.manifest import Entry, Manifest, WheelRecord
from wheelhub.options import Recipe
from wheelhub.util.fileio import sha256_file


@dataclass(frozen=True, kw_only=True, slots=True)
class CommonInputs:
    """Inputs shared by every entry of a build (hashed into each key)."""

    image_id: str
    hook_sha256: str
    build_requirements_sha256: str
    plat: str
    build_options: tuple[str, ...]

    def as_dict(self) -> dict[str, str]:
        return {"image_id": self.image_id, "setup_hook": self.hook_sha256,
                "build_requirements": self.build_requirements_sha256, "plat": self.plat,
                "build_options": " ".join(self.build_options)}


@dataclass(frozen=True, kw_only=True, slots=True)
class Keys:
    """What the keys of a build depend on besides the entry: one per build."""

    common: CommonInputs
    recipes: Mapping[str, Recipe]
    pins: Mapping[str, str]

    def inputs(self, line: RequirementLine, python: PythonPrefix,
               closure: Sequence[str]) -> dict[str, str]:
        return entry_inputs(line, python, self.common, self.recipes, self.pins, closure)

    def prekey(self, line: RequirementLine, python: PythonPrefix) -> str:
        recipe = self.recipes.get(line.project)
        return key_of({"requirement": str(line.requirement), "python": python.tag,
                       **self.common.as_dict(), "recipe": recipe.digest() if recipe else ""})

    def matches(self, line: RequirementLine, python: PythonPrefix, closure: Sequence[str],
                key: str) -> bool:
        """Whether a record with this closure and key was made from this machine's inputs."""
        return key_of(self.inputs(line, python, closure)) == key


@dataclass(frozen=True, kw_only=True, slots=True)
class PlannedEntry:
    line: RequirementLine
    python: PythonPrefix
    inputs: dict[str, str]
    key: str
    prekey: str = ""
    cached: Entry | None = None  # a manifest entry still valid for these inputs
    origin: str = ""  # where a cached entry came from: "" this wheelhouse, else a cache
    skip_reason: str = ""  # recipe says skip this Python
    # a miss whose own inputs are unchanged: its own wheel, still in the wheelhouse, stands
    own_wheel: WheelRecord | None = None

    @property
    def needs_build(self) -> bool:
        return self.cached is None and not self.skip_reason


@dataclass(frozen=True, kw_only=True, slots=True)
class Plan:
    entries: tuple[PlannedEntry, ...]
    pythons: tuple[PythonPrefix, ...]
    keys: Keys

    def for_python(self, python: PythonPrefix) -> list[PlannedEntry]:
        return [e for e in self.entries if e.python == python]

    def pythons_to_build(self) -> list[PythonPrefix]:
        return [p for p in self.pythons if any(e.needs_build for e in self.for_python(p))]


def digest_of(path: Path | None) -> str:
    """The sha256 of an input file, '' when there is none (no hook, no build requirements)."""
    return "" if path is None else sha256_file(path)


def pins_by_project(requirements: RequirementSet) -> dict[str, str]:
    """Every pin/range the user wrote for a project, across requirements and constraints."""
    pins: dict[str, list[str]] = {}
    for line in (*requirements.requirements, *requirements.constraints):
        pins.setdefault(line.project, []).append(str(line.requirement))
    return {project: " ; ".join(sorted(texts)) for project, texts in pins.items()}


def entry_inputs(line: RequirementLine, python: PythonPrefix, common: CommonInputs,
                 recipes: Mapping[str, Recipe], pins: Mapping[str, str],
                 closure: Sequence[str]) -> dict[str, str]:
    projects = sorted({line.project, *closure})
    return {
        "requirement": str(line.requirement),
        "python": python.tag,
        **common.as_dict(),
        "closure_pins": json.dumps({p: pins.get(p, "") for p in projects}, sort_keys=True),
        "recipes": json.dumps({p: recipes[p].digest() for p in projects if p in recipes},
                              sort_keys=True),
    }


def key_of(inputs: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(inputs), sort_keys=True).encode()).hexdigest()


def own_inputs(inputs: Mapping[str, str], project: str) -> dict[str, str]:
    """The inputs that make *project*'s own wheel: all but the other projects of its closure
    (their pins and recipes change what is installed beside it, not what is built)."""
    pins = json.loads(inputs.get("closure_pins") or "{}")
    recipes = json.loads(inputs.get("recipes") or "{}")
    return {**{k: v for k, v in inputs.items() if k not in {"closure_pins", "recipes"}},
            "pin": pins.get(project, ""), "recipe": recipes.get(project, "")}


def wheel_intact(wheel: WheelRecord, wheelhouse: Path) -> bool:
    path = wheelhouse / wheel.filename
    try:
        return path.stat().st_size == wheel.size and digest_of(path) == wheel.sha256
    except OSError:
        return False


def wheels_intact(entry: Entry, wheelhouse: Path) -> bool:
    return all(wheel_intact(wheel, wheelhouse) for wheel in entry.wheels)


def unchanged_own_wheel(previous: Entry, inputs: Mapping[str, str],
                        wheelhouse: Path) -> WheelRecord | None:
    """*previous*'s wheel of its own project when only the rest of its closure changed."""
    if previous.status not in {"built", "cached"} or not previous.inputs:
        return None
    project = canonicalize_name(previous.project)
    if own_inputs(previous.inputs, project) != own_inputs(inputs, project):
        return None
    own = [w for w in previous.wheels if canonicalize_name(w.project) == project]
    if len(own) != 1 or not wheel_intact(own[0], wheelhouse):
        return None
    return own[0]


def make_plan(*, requirements: RequirementSet, available: Sequence[PythonPrefix], selector: str,
              image: str, common: CommonInputs, recipes: Mapping[str, Recipe],
              manifest: Manifest, wheelhouse: Path, force: bool) -> Plan:
    pythons = select_pythons(selector, available, image=image)
    keys = Keys(common=common, recipes=recipes, pins=pins_by_project(requirements))
    planned: list[PlannedEntry] = []
    for python in pythons:
        for line in requirements.requirements:
            previous = manifest.find(line.project, python.tag)
            closure = [w.project for w in previous.wheels] if previous else []
            inputs = keys.inputs(line, python, closure)
            key = key_of(inputs)
            recipe = recipes.get(line.project)
            skip = ""
            if recipe is not None and any(_glob(python.tag, pat) for pat in recipe.skip_python):
                skip = f"recipe skips {python.tag}"
            cached = own = None
            if not force and not skip and previous is not None and previous.ok:
                if previous.key == key and wheels_intact(previous, wheelhouse):
                    cached = previous
                elif len(previous.wheels) > 1:
                    own = unchanged_own_wheel(previous, inputs, wheelhouse)
            planned.append(PlannedEntry(line=line, python=python, inputs=inputs, key=key,
                                        prekey=keys.prekey(line, python), cached=cached,
                                        skip_reason=skip, own_wheel=own))
    return Plan(entries=tuple(planned), pythons=tuple(pythons), keys=keys)


def _glob(tag: str, pattern: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(tag, pattern)
