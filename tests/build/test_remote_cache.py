"""The remote build cache without containers: keys a fresh machine can compute, restores that
check every byte, a static tree and a real hub as sources, shards that partition the plan."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.hub import running_hub
from wheelhub import manifest as mf
from wheelhub.build.errors import ShardError
from wheelhub.build.plan import CommonInputs, Plan, key_of, make_plan
from wheelhub.build.remote import restore
from wheelhub.build.requirements import parse_requirements
from wheelhub.build.shards import Knowledge, Shard, check_count, only_shard, split
from wheelhub.build.wheelhouse import Wheelhouse
from wheelhub.cache.errors import CacheUrlError
from wheelhub.cache.records import RECORDS_FILE, CacheRecord
from wheelhub.cache.sources import (
    HubSource,
    StaticSource,
    open_source,
    post_records,
    write_static_records,
)
from wheelhub.engines.pythons import prefixes_from_listing
from wheelhub.index.urls import RouteKind, cache_file_url, cache_records_url, parse_path
from wheelhub.manifest import Manifest, WheelRecord
from wheelhub.server import create_owner, create_token

AVAILABLE = prefixes_from_listing("/opt/python", ["cp311-cp311", "cp312-cp312"])
COMMON = CommonInputs(image_id="sha256:abc", hook_sha256="h", build_requirements_sha256="b",
                      plat="manylinux_2_28_x86_64", build_options=())
# b depends on a; c stands alone
CLOSURES = {"a": ["a"], "b": ["b", "a"], "c": ["c"]}


def plan_for(tmp: Path, text: str = "a==1\nb==1\nc==1\n", selector: str = "cp311") -> Plan:
    req = tmp / "requirements.txt"
    req.write_text(text)
    return make_plan(requirements=parse_requirements(req), available=AVAILABLE,
                     selector=selector, image="img", common=COMMON, recipes={},
                     manifest=Manifest(), wheelhouse=tmp, force=False)


def wheel_file(directory: Path, project: str, body: bytes | None = None) -> WheelRecord:
    name = f"{project}-1-py3-none-any.whl"
    data = body or f"wheel {project}".encode()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)
    return WheelRecord(filename=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                       project=project, version="1", tags=("py3-none-any",))


def records_for(plan: Plan, files: Path) -> list[CacheRecord]:
    """What machine A's publish would record for every entry of *plan*."""
    records = []
    for planned in plan.entries:
        closure = CLOSURES[planned.line.project]
        inputs = plan.keys.inputs(planned.line, planned.python, closure)
        records.append(CacheRecord(
            prekey=planned.prekey, key=key_of(inputs), project=planned.line.project,
            python=planned.python.tag, requirement=str(planned.line.requirement), inputs=inputs,
            wheels=tuple(wheel_file(files, p) for p in closure), duration=10.0,
            test=mf.TestRecord(status="passed", image="rt", image_id="sha256:rt")))
    return records


def static_tree(tmp: Path, plan: Plan) -> Path:
    root = tmp / "tree"
    write_static_records(root, "main", records_for(plan, root / "_files"))
    return root


def restored(plan: Plan, root: Path, wheelhouse: Path) -> dict[str, str]:
    wheelhouse.mkdir(exist_ok=True)
    after = restore(plan, [StaticSource(root)], Wheelhouse(wheelhouse))
    return {e.line.project: ("remote" if e.origin else "build") for e in after.entries}


# -- keys -------------------------------------------------------------------------------------
def test_a_fresh_machine_with_the_same_inputs_hits_everything(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    machine_a = plan_for(tmp_path / "a")
    root = static_tree(tmp_path, machine_a)
    (tmp_path / "b").mkdir()
    fresh = plan_for(tmp_path / "b")
    assert [e.prekey for e in fresh.entries] == [e.prekey for e in machine_a.entries]
    assert restored(fresh, root, tmp_path / "wh") == {"a": "remote", "b": "remote", "c": "remote"}
    # every byte as recorded, and nothing else in the wheelhouse
    names = sorted(p.name for p in (tmp_path / "wh").iterdir())
    assert names == sorted(f"{p}-1-py3-none-any.whl" for p in "abc")
    for name in names:
        assert (tmp_path / "wh" / name).read_bytes() == (root / "_files" / name).read_bytes()


def test_a_changed_pin_misses_exactly_for_the_closures_holding_it(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    root = static_tree(tmp_path, plan_for(tmp_path / "a"))
    (tmp_path / "b").mkdir()
    # a's pin changes: a and its dependent b miss, c still hits
    changed = plan_for(tmp_path / "b", "a==2\nb==1\nc==1\n")
    assert restored(changed, root, tmp_path / "wh") == {"a": "build", "b": "build", "c": "remote"}
    # c's pin changes: only c misses
    (tmp_path / "c").mkdir()
    other = plan_for(tmp_path / "c", "a==1\nb==1\nc==2\n")
    assert restored(other, root, tmp_path / "wh2") == {"a": "remote", "b": "remote", "c": "build"}


def test_a_record_of_the_same_own_inputs_serves_its_own_wheel_alone(tmp_path: Path) -> None:
    """a's pin moved on a fresh machine: b's record (closure a 1) still holds b's own wheel,
    made from b's unchanged inputs; that file alone comes, for b's closure to be remade."""
    (tmp_path / "a").mkdir()
    root = static_tree(tmp_path, plan_for(tmp_path / "a"))
    (tmp_path / "b").mkdir()
    (tmp_path / "wh").mkdir()
    after = restore(plan_for(tmp_path / "b", "a==2\nb==1\nc==1\n"), [StaticSource(root)],
                    Wheelhouse(tmp_path / "wh"))
    own = {e.line.project: e.own_wheel.filename if e.own_wheel else None for e in after.entries}
    assert own == {"a": None, "b": "b-1-py3-none-any.whl", "c": None}
    assert sorted(p.name for p in (tmp_path / "wh").iterdir()) == [
        "b-1-py3-none-any.whl", "c-1-py3-none-any.whl"]  # not a 1: its pin moved
    # b's own pin moved too: nothing of b's record serves
    (tmp_path / "c").mkdir()
    (tmp_path / "wh2").mkdir()
    after = restore(plan_for(tmp_path / "c", "a==2\nb==2\nc==1\n"), [StaticSource(root)],
                    Wheelhouse(tmp_path / "wh2"))
    assert [e.own_wheel for e in after.entries] == [None, None, None]


def test_a_corrupted_or_resized_or_missing_file_is_a_miss_that_leaves_no_byte(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "a").mkdir()
    plan = plan_for(tmp_path / "a")
    root = static_tree(tmp_path, plan)
    files = root / "_files"
    data = bytearray((files / "c-1-py3-none-any.whl").read_bytes())
    data[0] ^= 1  # same size, other bytes
    (files / "c-1-py3-none-any.whl").write_bytes(bytes(data))
    (files / "a-1-py3-none-any.whl").write_bytes(b"longer than it was recorded")
    caplog.set_level(logging.WARNING)
    assert restored(plan, root, tmp_path / "wh") == {"a": "build", "b": "build", "c": "build"}
    # Nothing of a or c lands. b's record failed on a's file, but b's own wheel is good: it
    # alone comes, for b's closure to be made again around a rebuilt a.
    assert [p.name for p in (tmp_path / "wh").iterdir()] == ["b-1-py3-none-any.whl"]
    assert (tmp_path / "wh" / "b-1-py3-none-any.whl").read_bytes() == (
        files / "b-1-py3-none-any.whl").read_bytes()
    assert "does not match its recorded sha256" in caplog.text
    (files / "c-1-py3-none-any.whl").unlink()
    assert restored(plan, root, tmp_path / "wh") == {"a": "build", "b": "build", "c": "build"}
    assert "No such file" in caplog.text


def test_malformed_records_are_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "a").mkdir()
    plan = plan_for(tmp_path / "a")
    root = tmp_path / "tree"
    root.mkdir()
    prekey = plan.entries[0].prekey
    (root / RECORDS_FILE).write_text(json.dumps({"format": 1, "records": {prekey: [
        {"prekey": prekey, "key": "x", "wheels": [{"filename": "../evil.whl"}]}, "nonsense"]}}))
    assert restored(plan, root, tmp_path / "wh")["a"] == "build"
    assert "ignoring a cache record" in caplog.text


# -- URLs and sources ---------------------------------------------------------------------------
def test_cache_urls_round_trip() -> None:
    prekey = "ab" * 32
    route = parse_path(cache_records_url("", "acme", prekey))
    assert (route.kind, route.owner, route.operation) == (RouteKind.API_CACHE_RECORDS, "acme",
                                                          prekey)
    assert route.path == cache_records_url("", "acme", prekey)
    assert parse_path(cache_records_url("", "acme")).kind is RouteKind.API_CACHE_RECORDS
    file_route = parse_path(cache_file_url("", "acme", "a-1-py3-none-any.whl"))
    assert (file_route.kind, file_route.filename) == (RouteKind.API_CACHE_FILE,
                                                      "a-1-py3-none-any.whl")
    assert parse_path("/api/v1/acme/cache/records/not-a-key").kind is RouteKind.NOT_FOUND


@pytest.mark.parametrize("url", ["https://pypi.anaconda.org/acme", "ftp://x/y",
                                 "https://hub.example.org/"])
def test_urls_that_cannot_be_a_cache_say_which_can(url: str) -> None:
    with pytest.raises(CacheUrlError) as caught:
        open_source(url, token=None, token_env="WHEELHUB_TOKEN")
    assert "cannot serve as a build cache" in caught.value.message
    assert "file:///DIR" in (caught.value.hint or "")


def test_an_unreachable_hub_warns_and_serves_nothing(caplog: pytest.LogCaptureFixture) -> None:
    source = open_source("http://127.0.0.1:9/acme", token=None, token_env="WHEELHUB_TOKEN",
                         timeout=2)
    assert source.lookup("ab" * 32) == []
    assert "unreachable" in caplog.text and "building without it" in caplog.text


def test_the_hub_keeps_records_per_owner_and_checks_them(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    from tests.support.dists import make_wheel

    (tmp_path / "p").mkdir()
    plan = plan_for(tmp_path / "p", "whfix-pure==1.0\n")
    with running_hub(tmp_path / "hub") as hub:
        create_owner(hub.root, "acme", private=True)
        token = create_token(hub.root, owner="acme", scope="upload")
        (tmp_path / "dist").mkdir()
        wheel = make_wheel(tmp_path / "dist", "whfix-pure", "1.0")
        import subprocess
        import sys

        subprocess.run([sys.executable, "-m", "twine", "upload", "--disable-progress-bar",
                        "--repository-url", hub.upload_url("acme", "feature-x"),
                        "-u", "__token__", "-p", token, str(wheel)], check=True,
                       capture_output=True)
        data = wheel.read_bytes()
        planned = plan.entries[0]
        closure = [planned.line.project]
        inputs = plan.keys.inputs(planned.line, planned.python, closure)
        record = CacheRecord(prekey=planned.prekey, key=key_of(inputs),
                             project=planned.line.project, python="cp311",
                             requirement=str(planned.line.requirement), inputs=inputs,
                             wheels=(WheelRecord(filename=wheel.name,
                                                 sha256=hashlib.sha256(data).hexdigest(),
                                                 size=len(data), project="whfix-pure",
                                                 version="1.0", tags=("py3-none-any",)),))
        bad = replace(record, key="cd" * 32,
                      wheels=(replace(record.wheels[0], sha256="00" * 32),))
        owner_url = f"{hub.base_url}/acme"
        line = post_records(owner_url, "feature-x", [record, bad], token=token)
        assert line == "cache records: 1 stored, 1 refused"
        # another branch (label) reads it: per owner, not per label
        source = open_source(owner_url, token=token, token_env="WHEELHUB_TOKEN")
        assert isinstance(source, HubSource)
        found = source.lookup(planned.prekey)
        assert [r.key for r in found] == [record.key]
        assert found[0].label == "feature-x"
        wheelhouse = tmp_path / "wh"
        wheelhouse.mkdir()
        after = restore(plan, [source], Wheelhouse(wheelhouse))
        assert after.entries[0].origin == owner_url
        assert (wheelhouse / wheel.name).read_bytes() == data
        # a private owner without a readable token: a warning naming the variable, no records
        anonymous = open_source(owner_url, token=None, token_env="MY_TOKEN")
        assert anonymous.lookup(planned.prekey) == []
        assert "$MY_TOKEN is not set" in caplog.text
        assert token not in caplog.text


# -- shards -----------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["0/3", "4/3", "a/b", "3", "1/0"])
def test_bad_shard_specs_are_one_clear_error(spec: str) -> None:
    with pytest.raises(ShardError) as caught:
        Shard.parse(spec)
    assert spec in caught.value.message and caught.value.hint


def test_zero_shards_is_an_error() -> None:
    with pytest.raises(ShardError):
        check_count(0)


def test_shards_partition_the_plan_and_keep_dependents_with_dependencies(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, "a==1\nb==1\nc==1\nd==1\ne==1\n", selector="cp311,cp312")
    knowledge = Knowledge(
        durations={("c", "cp311"): 50.0, ("c", "cp312"): 50.0, ("d", "cp311"): 5.0},
        closures={("b", "cp311"): ["b", "a"], ("e", "cp312"): ["e", "pip-only-dep"]})
    shards = split(plan, 3, knowledge)
    assert sorted(p for s in shards for p in s) == ["a", "b", "c", "d", "e"]
    assert any({"a", "b"} <= set(s) for s in shards)
    assert ["c"] in shards  # the long one alone
    entries = [e for i in range(1, 4)
               for e in only_shard(plan, Shard(index=i, count=3), knowledge).entries]
    assert sorted((e.line.project, e.python.tag) for e in entries) == sorted(
        (e.line.project, e.python.tag) for e in plan.entries)
    explicit = only_shard(plan, Shard.parse("1/3:a,b"), knowledge)
    assert {e.line.project for e in explicit.entries} == {"a", "b"}
    with pytest.raises(ShardError):
        only_shard(plan, Shard.parse("1/3:zzz"), knowledge)
