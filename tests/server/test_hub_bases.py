"""Label bases: a branch label falls back to main; the owner's names are remembered.

These run on the storage directly (the pages it stores are what the server sends);
tests/server/test_hub_upstream.py drives the same through pip and uv.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dists import make_wheel
from wheelhub.errors import WheelhubError
from wheelhub.index.dists import parse_dist_filename
from wheelhub.server import open_storage
from wheelhub.server.errors import HubNotFound
from wheelhub.server.sqlite import SCHEMA, SCHEMA_VERSION, SqliteStorage
from wheelhub.server.storage import FileRecord, NewFile, Selection

WHEELHUB = str(Path(sys.executable).parent / "wheelhub")


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[SqliteStorage]:
    store = SqliteStorage(tmp_path / "hub")
    store.create_owner("acme")
    yield store
    store.close()


def add(storage: SqliteStorage, label: str, wheel: Path, owner: str = "acme") -> None:
    data = wheel.read_bytes()
    dist = parse_dist_filename(wheel.name)
    handle, temp = storage.temp_file()
    with handle:
        handle.write(data)
    record = FileRecord(filename=dist.normalized_filename, project=dist.project,
                        display_name=dist.project, version=str(dist.version), kind=dist.kind,
                        python_tags=dist.python_tags, platform_tags=dist.platform_tags,
                        size=len(data), sha256=hashlib.sha256(data).hexdigest(), md5="",
                        blake2_256="", requires_python=None, summary=None,
                        metadata_sha256=None, uploaded=time.time())
    storage.add_file(owner, label, NewFile(record=record, metadata=b"", path=temp),
                     create_label=True)


def page(storage: SqliteStorage, label: str, project: str = "") -> list[str]:
    """Filenames on a project page (or project names on the index) of *label*."""
    found = storage.page("acme", label, project, json=True, gzip=False).page
    if found is None:
        return []
    data = json.loads(found.body)
    if not project:
        return [p["name"] for p in data["projects"]]
    return [f"{f['filename']}{' (yanked)' if f['yanked'] else ''}" for f in data["files"]]


def test_branch_label_shows_main_and_base_changes_show_through(storage: SqliteStorage,
                                                               tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    add(storage, "main", make_wheel(dist, "pyyaml", "6.0"))
    add(storage, "main", make_wheel(dist, "requests", "2.0"))
    storage.create_label("acme", "feature-x", bases=["main"])
    add(storage, "feature-x", make_wheel(dist, "pyyaml", "6.1"))

    assert page(storage, "feature-x", "pyyaml") == ["pyyaml-6.0-py3-none-any.whl",
                                                    "pyyaml-6.1-py3-none-any.whl"]
    assert page(storage, "feature-x") == ["pyyaml", "requests"]
    assert page(storage, "main", "pyyaml") == ["pyyaml-6.0-py3-none-any.whl"]
    assert storage.find_file("acme", "feature-x", "requests-2.0-py3-none-any.whl") is not None

    # A new file in main, a removal in main, a yank in main: at once on feature-x.
    add(storage, "main", make_wheel(dist, "six", "1.0"))
    assert page(storage, "feature-x", "six") == ["six-1.0-py3-none-any.whl"]
    storage.remove("acme", "main", Selection(project="requests"))
    assert page(storage, "feature-x", "requests") == []
    assert page(storage, "feature-x") == ["pyyaml", "six"]
    assert storage.find_file("acme", "feature-x", "requests-2.0-py3-none-any.whl") is None
    storage.yank("acme", "main", Selection(project="pyyaml"), "broken")
    assert page(storage, "feature-x", "pyyaml") == ["pyyaml-6.0-py3-none-any.whl (yanked)",
                                                    "pyyaml-6.1-py3-none-any.whl"]
    # The label's own entry of the same file wins: copied in, not yanked there.
    storage.copy("acme", "main", "feature-x", Selection(project="pyyaml"), move=False)
    storage.yank("acme", "feature-x", Selection(project="pyyaml", version="6.0"), None)
    assert page(storage, "feature-x", "pyyaml") == ["pyyaml-6.0-py3-none-any.whl",
                                                    "pyyaml-6.1-py3-none-any.whl"]


def test_bases_chain_in_order_and_changing_bases_rerenders(storage: SqliteStorage,
                                                           tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    add(storage, "main", make_wheel(dist, "a", "1.0"))
    add(storage, "staging", make_wheel(dist, "b", "1.0"))
    storage.create_label("acme", "feature-x", bases=["staging"])
    storage.set_bases("acme", "staging", ["main"])  # bases of bases show through too
    assert page(storage, "feature-x") == ["a", "b"]
    assert [lab.bases for lab in storage.list_labels("acme") if lab.name == "feature-x"] \
        == [("staging",)]
    storage.set_bases("acme", "feature-x", [])
    assert page(storage, "feature-x") == []
    assert page(storage, "feature-x", "a") == []


def test_listed_bases_keep_their_order_on_both_backends(database: str, tmp_path: Path) -> None:
    """The order of bases is the fallback order: listed as set, whatever order the
    database aggregates rows in (ids, names and insertion order all differ from it)."""
    store = open_storage(tmp_path / "hub", database)
    try:
        store.create_owner("acme")
        for name in ("b5", "b1", "b4", "b2", "b3"):
            store.create_label("acme", name)
        store.create_label("acme", "feat", bases=["b2", "b5", "b1"])
        store.create_label("acme", "other", bases=["b4", "b3", "b1", "b5", "b2"])
        store.set_bases("acme", "feat", ["b3", "b1", "b4", "b5", "b2"])
        listed = {lab.name: lab.bases for lab in store.list_labels("acme")}
    finally:
        store.close()
    assert listed["feat"] == ("b3", "b1", "b4", "b5", "b2")
    assert listed["other"] == ("b4", "b3", "b1", "b5", "b2")
    assert listed["b1"] == ()


def test_bad_bases_are_refused_and_nothing_changes(storage: SqliteStorage,
                                                   tmp_path: Path) -> None:
    add(storage, "main", make_wheel(tmp_path / "dist", "a", "1.0"))
    storage.create_owner("other")
    storage.create_label("acme", "feature-x", bases=["main"])
    with pytest.raises(WheelhubError, match="cycle through 'feature-x'"):
        storage.set_bases("acme", "main", ["feature-x"])
    with pytest.raises(WheelhubError, match="cannot be its own base"):
        storage.set_bases("acme", "main", ["main"])
    with pytest.raises(HubNotFound, match="label 'acme/nope' not found"):
        storage.create_label("acme", "feature-y", bases=["nope"])
    with pytest.raises(WheelhubError, match="another owner's label"):
        storage.create_label("acme", "feature-z", bases=["other/main"])
    with pytest.raises(WheelhubError, match="is a base of feature-x"):
        storage.delete_label("acme", "main")
    labels = {lab.name: lab.bases for lab in storage.list_labels("acme")}
    assert labels == {"main": (), "feature-x": ("main",)}  # no feature-y/z, main unchanged
    assert page(storage, "main") == ["a"]


def test_owner_names_are_remembered_after_removal(storage: SqliteStorage,
                                                  tmp_path: Path) -> None:
    add(storage, "dev", make_wheel(tmp_path / "dist", "pyyaml", "6.0"))
    assert storage.owns_project("acme", "pyyaml")
    storage.delete_label("acme", "dev")
    assert storage.owns_project("acme", "pyyaml")  # the tombstone outlives every file
    assert not storage.owns_project("acme", "six")


def test_a_schema_1_database_migrates_forward(tmp_path: Path) -> None:
    root = tmp_path / "hub"
    root.mkdir()
    with sqlite3.connect(root / "hub.sqlite3") as conn:
        conn.executescript(SCHEMA + "PRAGMA user_version=1;")
        conn.execute("INSERT INTO owners(name, created) VALUES ('acme', 0)")
        conn.execute("INSERT INTO labels(owner_id, name, created) VALUES (1, 'main', 0)")
        conn.execute("INSERT INTO files(owner_id, filename, project, display_name, version, "
                     "kind, python_tags, platform_tags, size, sha256, md5, blake2_256, "
                     "metadata, metadata_sha256, uploaded) VALUES (1, 'old-1.0-py3-none-any.whl',"
                     " 'old', 'old', '1.0', 'bdist_wheel', 'py3', 'any', 1, 'x', '', '', '', '', 0)")
    conn.close()
    storage = SqliteStorage(root)
    try:
        version = storage._conn().execute("PRAGMA user_version").fetchone()[0]
        assert version == SCHEMA_VERSION
        assert storage.owns_project("acme", "old")  # existing names become the owner's
        assert len(storage.hub_id()) == 32
        storage.create_label("acme", "feature-x", bases=["main"])
    finally:
        storage.close()


def test_label_cli_create_with_bases(tmp_path: Path) -> None:
    root = tmp_path / "hub"
    storage = SqliteStorage(root)
    storage.create_owner("acme")
    add(storage, "main", make_wheel(tmp_path / "dist", "a", "1.0"))
    storage.close()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([WHEELHUB, "label", args[0], "--root", str(root), *args[1:]],
                              capture_output=True, text=True, timeout=60, check=False)

    made = cli("create", "--owner", "acme", "feature-x", "--bases", "main")
    assert made.returncode == 0 and "created label acme/feature-x on main" in made.stdout
    listing = cli("list", "--owner", "acme").stdout
    assert "feature-x\tpublic\t0 projects\t0 files on main" in listing
    cycle = cli("bases", "--owner", "acme", "main", "feature-x")
    assert cycle.returncode != 0
    assert "error: bases of 'acme/main' would form a cycle" in cycle.stderr
    assert "Traceback" not in cycle.stderr
