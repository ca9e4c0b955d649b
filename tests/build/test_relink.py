"""A requirement whose own inputs did not change keeps its own wheel when a pin in its
closure moves (the plan), and its closure is relinked from this run's entries where every
dependency is pinned in the run (the host), with the reason in words where it cannot be."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.support.dists import make_wheel
from wheelhub.build.plan import CommonInputs, entry_inputs, key_of, make_plan, pins_by_project
from wheelhub.build.relink import Relinked, relink
from wheelhub.build.requirements import RequirementLine, parse_requirements
from wheelhub.engines.pythons import prefixes_from_listing, select_pythons
from wheelhub.manifest import Entry, Manifest, WheelRecord
from wheelhub.options import Recipe

AVAILABLE = prefixes_from_listing("/opt/python", ["cp311-cp311", "cp312-cp312"])
CP311 = select_pythons("cp311", AVAILABLE, image="img")[0]
COMMON = CommonInputs(image_id="sha256:abc", hook_sha256="h", build_requirements_sha256="b",
                      plat="manylinux_2_28_x86_64", build_options=())


def record(path: Path) -> WheelRecord:
    data = path.read_bytes()
    name, version = path.name.split("-")[:2]
    return WheelRecord(filename=path.name, sha256=hashlib.sha256(data).hexdigest(),
                       size=len(data), project=name.replace("_", "-"), version=version,
                       tags=("py3-none-any",))


@pytest.fixture
def house(tmp_path: Path) -> Path:
    """The wheelhouse of an earlier run: app 1.0 (needs lib), lib 1.0 and lib 1.1."""
    house = tmp_path / "wheelhouse"
    make_wheel(house, "app", "1.0", requires=["lib>=1.0"])
    make_wheel(house, "lib", "1.0")
    make_wheel(house, "lib", "1.1")
    return house


def earlier_run(tmp_path: Path, house: Path, recipes: dict[str, Recipe]) -> Manifest:
    """The manifest a build of ``app==1.0, lib==1.0`` for cp311 left."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("app==1.0\nlib==1.0\n")
    parsed = parse_requirements(requirements)
    closures = {"app": ("app-1.0-py3-none-any.whl", "lib-1.0-py3-none-any.whl"),
                "lib": ("lib-1.0-py3-none-any.whl",)}
    entries = []
    for line in parsed.requirements:
        wheels = tuple(record(house / name) for name in closures[line.project])
        inputs = entry_inputs(line, CP311, COMMON, recipes, pins_by_project(parsed),
                              [w.project for w in wheels])
        entries.append(Entry(requirement=str(line.requirement), project=line.project,
                             python="cp311", key=key_of(inputs), status="built",
                             wheels=wheels, inputs=inputs))
    return Manifest(entries=tuple(entries))


def own_wheels(tmp_path: Path, house: Path, text: str, *, before: dict[str, Recipe] | None = None,
               now: dict[str, Recipe] | None = None, force: bool = False) -> dict[str, str]:
    """What the plan of *text* keeps of each entry needing a build: its own wheel, or ''."""
    manifest = earlier_run(tmp_path, house, before or {})
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(text)
    plan = make_plan(requirements=parse_requirements(requirements), available=AVAILABLE,
                     selector="cp311", image="img", common=COMMON, recipes=now or {},
                     manifest=manifest, wheelhouse=house, force=force)
    return {e.line.project: e.own_wheel.filename if e.own_wheel else ""
            for e in plan.entries if e.needs_build}


def test_a_moved_dependency_pin_keeps_the_dependents_own_wheel(tmp_path: Path,
                                                              house: Path) -> None:
    assert own_wheels(tmp_path, house, "app==1.0\nlib==1.1\n") == {
        "app": "app-1.0-py3-none-any.whl", "lib": ""}


def test_its_own_pin_recipe_or_force_rebuilds_it(tmp_path: Path, house: Path) -> None:
    assert own_wheels(tmp_path, house, "app==1.1\nlib==1.1\n") == {"app": "", "lib": ""}
    assert own_wheels(tmp_path, house, "app==1.0\nlib==1.1\n",
                      now={"app": Recipe(project="app", env=(("CFLAGS", "-O0"),))}) == {
        "app": "", "lib": ""}
    assert own_wheels(tmp_path, house, "app==1.0\nlib==1.0\n", force=True) == {
        "app": "", "lib": ""}


def test_a_dependencys_recipe_keeps_the_own_wheel(tmp_path: Path, house: Path) -> None:
    # lib's recipe changes lib's wheel, which app's closure holds; app's own wheel stands.
    assert own_wheels(tmp_path, house, "app==1.0\nlib==1.0\n",
                      now={"lib": Recipe(project="lib", source=True)}) == {
        "app": "app-1.0-py3-none-any.whl", "lib": ""}


def test_a_changed_own_wheel_on_disk_is_rebuilt(tmp_path: Path, house: Path) -> None:
    manifest = earlier_run(tmp_path, house, {})
    (house / "app-1.0-py3-none-any.whl").write_bytes(b"tampered")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("app==1.0\nlib==1.1\n")
    plan = make_plan(requirements=parse_requirements(requirements), available=AVAILABLE,
                     selector="cp311", image="img", common=COMMON, recipes={},
                     manifest=manifest, wheelhouse=house, force=False)
    assert [e.own_wheel for e in plan.entries] == [None, None]


# -- relinking on the host ------------------------------------------------------------------
def lines(tmp_path: Path, text: str) -> dict[str, RequirementLine]:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(text)
    return {line.project: line for line in parse_requirements(requirements).requirements}


def settled(house: Path, **closures: tuple[str, ...]) -> dict[str, Entry]:
    return {project: Entry(requirement=project, project=project, python="cp311", key=project,
                           status="built", wheels=tuple(record(house / n) for n in names))
            for project, names in closures.items()}


def test_the_closure_is_the_own_wheel_and_the_pinned_dependencys_entry(
        tmp_path: Path, house: Path) -> None:
    make_wheel(house, "base", "2.0")
    make_wheel(house, "lib", "1.2", requires=["base==2.0"])
    listed = lines(tmp_path, "app==1.0\nlib==1.2\nbase==2.0\n")
    found = relink(listed["app"], "cp311", record(house / "app-1.0-py3-none-any.whl"), house,
                   settled(house, lib=("lib-1.2-py3-none-any.whl", "base-2.0-py3-none-any.whl"),
                           base=("base-2.0-py3-none-any.whl",)), listed)
    assert isinstance(found, Relinked)
    assert [w.filename for w in found.wheels] == [
        "app-1.0-py3-none-any.whl", "lib-1.2-py3-none-any.whl", "base-2.0-py3-none-any.whl"]
    assert found.dependencies == ("lib 1.2",)


def test_markers_and_extras_decide_which_dependencies_count(tmp_path: Path,
                                                           house: Path) -> None:
    make_wheel(house, "tool", "1.0", requires=[
        "lib==1.1", "old>=1; python_version < '3.8'", "fast>=1; extra == 'speed'"])
    own = record(house / "tool-1.0-py3-none-any.whl")
    found = settled(house, lib=("lib-1.1-py3-none-any.whl",))
    plain = lines(tmp_path, "tool==1.0\nlib==1.1\n")
    assert isinstance(relink(plain["tool"], "cp311", own, house, found, plain), Relinked)
    extra = lines(tmp_path, "tool[speed]==1.0\nlib==1.1\n")
    assert relink(extra["tool"], "cp311", own, house, found, extra) == (
        "its dependency fast is not pinned with == in the requirements")


@pytest.mark.parametrize(("text", "closures", "reason"), [
    ("app==1.0\nlib>=1.0\n", {"lib": ("lib-1.1-py3-none-any.whl",)},
     "its dependency lib is not pinned with == in the requirements"),
    ("app==1.0\n", {}, "its dependency lib is not pinned with == in the requirements"),
    ("app==1.0\nlib==0.9\n", {"lib": ("lib-1.0-py3-none-any.whl",)},
     "it asks for lib>=1.0, the requirements pin lib==0.9"),
    ("app==1.0\nlib==1.1\n", {}, "its dependency lib has no wheel for cp311 in this run"),
    ("app==1.0\nlib==1.1\n", {"lib": ("lib-1.0-py3-none-any.whl",)},
     "the entry of lib for cp311 holds no lib 1.1 wheel"),
])
def test_what_only_pip_can_resolve_is_said(tmp_path: Path, house: Path, text: str,
                                           closures: dict[str, tuple[str, ...]],
                                           reason: str) -> None:
    listed = lines(tmp_path, text)
    own = record(house / "app-1.0-py3-none-any.whl")
    assert relink(listed["app"], "cp311", own, house, settled(house, **closures),
                  listed) == reason


def test_a_failed_dependency_is_not_linked(tmp_path: Path, house: Path) -> None:
    listed = lines(tmp_path, "app==1.0\nlib==1.1\n")
    failed = {"lib": Entry(requirement="lib==1.1", project="lib", python="cp311", key="k",
                           status="failed")}
    assert relink(listed["app"], "cp311", record(house / "app-1.0-py3-none-any.whl"), house,
                  failed, listed) == "its dependency lib has no wheel for cp311 in this run"


def test_two_files_of_one_project_in_the_closures_clash(tmp_path: Path, house: Path) -> None:
    make_wheel(house, "two", "1.0", requires=["lib==1.1", "other==1.0"])
    make_wheel(house, "other", "1.0", requires=["lib==1.0"])
    listed = lines(tmp_path, "two==1.0\nlib==1.1\nother==1.0\n")
    found = relink(listed["two"], "cp311", record(house / "two-1.0-py3-none-any.whl"), house,
                   settled(house, lib=("lib-1.1-py3-none-any.whl",),
                           other=("other-1.0-py3-none-any.whl", "lib-1.0-py3-none-any.whl")),
                   listed)
    assert found == ("the closures hold two files of lib: lib-1.1-py3-none-any.whl and "
                     "lib-1.0-py3-none-any.whl")
