from __future__ import annotations

from pathlib import Path

import pytest

from wheelhub.build.plan import CommonInputs, entry_inputs, key_of, make_plan, pins_by_project
from wheelhub.build.requirements import parse_requirements
from wheelhub.engines.errors import PythonSelectionError
from wheelhub.engines.pythons import prefixes_from_listing, select_pythons
from wheelhub.manifest import Entry, Manifest, WheelRecord

AVAILABLE = prefixes_from_listing(
    "/opt/python", ["cp310-cp310", "cp311-cp311", "cp312-cp312", "cp313-cp313", "cp313-cp313t",
                    "pp310-pypy310_pp73", "README"])
COMMON = CommonInputs(image_id="sha256:abc", hook_sha256="h", build_requirements_sha256="b",
                      plat="manylinux_2_28_x86_64", build_options=())


def tags(selector: str) -> list[str]:
    return [p.tag for p in select_pythons(selector, AVAILABLE, image="img")]


def test_selectors() -> None:
    assert tags("cp311,cp312") == ["cp311", "cp312"]
    assert tags("cp31*") == ["cp310", "cp311", "cp312", "cp313"]  # free-threaded: explicit only
    assert tags("cp313t") == ["cp313t"]
    assert tags("cp313") == ["cp313"]
    assert len(tags("all")) == 6
    with pytest.raises(PythonSelectionError) as caught:
        select_pythons("cp39", AVAILABLE, image="img")
    assert "matches nothing in img (it has: cp310, cp311, cp312, cp313, cp313t, pp310)" in (
        caught.value.message)


def _wheel(name: str, path: Path) -> WheelRecord:
    import hashlib

    data = b"wheel bytes " + name.encode()
    (path / name).write_bytes(data)
    project = name.split("-", maxsplit=1)[0].replace("_", "-")
    return WheelRecord(filename=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                       project=project, version=name.split("-")[1], tags=("py3-none-any",))


def test_one_pin_change_invalidates_only_entries_whose_closure_holds_it(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("a==1\nb==1\nc==1\n")
    parsed = parse_requirements(req)
    python = select_pythons("cp311", AVAILABLE, image="img")[0]
    wheels = {"a": [_wheel("a-1-py3-none-any.whl", tmp_path)],
              "b": [_wheel("b-1-py3-none-any.whl", tmp_path), _wheel("a-1-py3-none-any.whl", tmp_path)],
              "c": [_wheel("c-1-py3-none-any.whl", tmp_path)]}
    pins = pins_by_project(parsed)
    entries = []
    for line in parsed.requirements:
        closure = [w.project for w in wheels[line.project]]
        inputs = entry_inputs(line, python, COMMON, {}, pins, closure)
        entries.append(Entry(requirement=str(line.requirement), project=line.project,
                             python="cp311", key=key_of(inputs), status="built",
                             wheels=tuple(wheels[line.project])))
    manifest = Manifest(entries=tuple(entries))

    def plan_for(text: str) -> dict[str, bool]:
        req.write_text(text)
        plan = make_plan(requirements=parse_requirements(req), available=AVAILABLE,
                         selector="cp311", image="img", common=COMMON, recipes={},
                         manifest=manifest, wheelhouse=tmp_path, force=False)
        return {e.line.project: e.needs_build for e in plan.entries}

    assert plan_for("a==1\nb==1\nc==1\n") == {"a": False, "b": False, "c": False}
    assert plan_for("a==2\nb==1\nc==1\n") == {"a": True, "b": True, "c": False}
    (tmp_path / "c-1-py3-none-any.whl").write_bytes(b"tampered")
    assert plan_for("a==1\nb==1\nc==1\n") == {"a": False, "b": False, "c": True}


def test_a_narrower_run_keeps_other_pythons_and_prunes_only_superseded_wheels(
        tmp_path: Path) -> None:
    """A quick ``--python cp311`` run in a wheelhouse holding cp311 and cp312 wheels: cp312's
    entries and files stay; cp311's old wheel goes only because its entry was rebuilt."""
    from dataclasses import replace

    from wheelhub.build.run import carried_over
    from wheelhub.build.wheelhouse import Wheelhouse

    req = tmp_path / "requirements.txt"
    req.write_text("a==1\n")
    old_entries = []
    for tag in ("cp311", "cp312"):
        wheel = replace(_wheel(f"a-1-{tag}-{tag}-linux_x86_64.whl", tmp_path),
                        tags=(f"{tag}-{tag}-linux_x86_64",))
        old_entries.append(Entry(requirement="a==1", project="a", python=tag, key="old",
                                 status="built", wheels=(wheel,)))
    old = Manifest(entries=tuple(old_entries))
    plan = make_plan(requirements=parse_requirements(req), available=AVAILABLE,
                     selector="cp311", image="img", common=COMMON, recipes={},
                     manifest=old, wheelhouse=tmp_path, force=False)
    assert [(e.python.tag, e.needs_build) for e in plan.entries] == [("cp311", True)]
    kept = carried_over(old, plan, ["a"])
    assert {(e.project, e.python) for e in kept.entries} == {("a", "cp311"), ("a", "cp312")}

    rebuilt = _wheel("a-1-cp311-cp311-manylinux_2_17_x86_64.whl", tmp_path)
    final = kept.with_entry(Entry(requirement="a==1", project="a", python="cp311",
                                  key=plan.entries[0].key, status="built", wheels=(rebuilt,)))
    removed = Wheelhouse(tmp_path).prune(old, final)
    assert removed == ["a-1-cp311-cp311-linux_x86_64.whl"]
    assert sorted(p.name for p in tmp_path.glob("*.whl")) == [
        "a-1-cp311-cp311-manylinux_2_17_x86_64.whl", "a-1-cp312-cp312-linux_x86_64.whl"]

    # A requirement dropped from requirements.txt goes for the Python selected, not others.
    req.write_text("b==1\n")
    plan = make_plan(requirements=parse_requirements(req), available=AVAILABLE,
                     selector="cp311", image="img", common=COMMON, recipes={},
                     manifest=final, wheelhouse=tmp_path, force=False)
    assert {(e.project, e.python) for e in carried_over(final, plan, ["b"]).entries} == {
        ("a", "cp312")}

    # A --shard run plans part of the list: the other listed requirements' entries stay.
    req.write_text("a==1\nb==1\n")
    plan = make_plan(requirements=parse_requirements(req), available=AVAILABLE,
                     selector="cp311", image="img", common=COMMON, recipes={},
                     manifest=final, wheelhouse=tmp_path, force=False)
    shard = replace(plan, entries=tuple(e for e in plan.entries if e.line.project == "b"))
    assert {(e.project, e.python) for e in carried_over(final, shard, ["a", "b"]).entries} == {
        ("a", "cp311"), ("a", "cp312")}
