"""`wheelhub cache`: the snapshot budget, and info/prune against a real engine.

Pruning is shown on podman: its image store holds only what this suite puts there, so a
prune cannot take a snapshot another test on the shared Docker daemon is using.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUNTIME_IMAGE, connect_engine
from wheelhub.engines.cache import CacheItem, select

WHEELHUB = str(Path(sys.executable).with_name("wheelhub"))


def item(name: str, size: int, used: float) -> CacheItem:
    return CacheItem(kind="snapshot", name=name, size=size, last_used=used)


def test_budget_keeps_the_most_recently_used_within_the_size() -> None:
    items = [item("new", 300, 3.0), item("mid", 300, 2.0), item("old", 300, 1.0)]
    assert [i.name for i in select(items, keep=2, max_size=0)] == ["new", "mid"]
    assert [i.name for i in select(items, keep=10, max_size=700)] == ["new", "mid"]
    assert select(items, keep=0, max_size=0) == []


@pytest.fixture
def podman() -> Iterator[Any]:
    client = connect_engine("podman")
    yield client
    client.close()


@pytest.mark.docker
@pytest.mark.podman
@pytest.mark.slow
def test_info_and_prune_least_recently_used_first(podman: Any, tmp_path: Path) -> None:
    keys = [uuid.uuid4().hex + "00000000" for _ in range(3)]  # 40 hex digits, as a key's tag
    used = tmp_path / "prepared-used"
    used.mkdir()
    for age, (key, python) in enumerate(zip(keys, ("cp311", "cp312", "cp313"), strict=True)):
        container = podman.containers.create(RUNTIME_IMAGE, ["true"])
        container.commit(repository="wheelhub-prepared", tag=key,
                         changes=[f"LABEL org.wheelhub.prepared={python}"])
        container.remove()
        (used / key).touch()
        os.utime(used / key, (time.time() - 3600 * (age + 1),) * 2)  # keys[2] the least recent
    try:
        def cache(*args: str) -> str:
            done = subprocess.run([WHEELHUB, "cache", *args, "--engine", "podman",
                                   "--cache-dir", str(tmp_path)],
                                  capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 0, done.stdout + done.stderr
            return done.stdout

        info = cache("info")
        assert f"snapshot  {keys[0]} (cp311)" in info
        assert f"{keys[2]} (cp313)" in info and "3 h ago" in info
        total = sum(1 for line in info.splitlines() if line.startswith("snapshot "))
        pruned = cache("prune", "--keep", str(total - 2))
        assert f"removed snapshot {keys[2]} (cp313)" in pruned
        assert f"removed snapshot {keys[1]} (cp312)" in pruned
        assert "removed 2 snapshot(s)" in pruned
        left = [t for i in podman.images.list(name="wheelhub-prepared") for t in i.tags]
        assert any(keys[0] in t for t in left)
        assert not any(keys[1] in t or keys[2] in t for t in left)
    finally:
        import docker.errors

        for key in keys:
            with contextlib.suppress(docker.errors.NotFound):  # pruned
                podman.images.remove(f"wheelhub-prepared:{key}")
