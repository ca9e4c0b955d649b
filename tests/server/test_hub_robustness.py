"""Concurrency and crashes: racing uploads, and kill -9 in the middle of an upload storm."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.dists import make_wheel
from tests.support.hub import HubProcess, http, running_hub, upload
from tests.support.storm import served_intact, upload_storm
from wheelhub.server import create_token


def test_sixteen_clients_upload_the_same_file(hub: HubProcess, owner: str, upload_token: str,
                                              wheel: Path) -> None:
    barrier = threading.Barrier(16)

    def one(_: int) -> tuple[int, str]:
        barrier.wait()
        reply = upload(hub.upload_url(owner, "race"), wheel, upload_token)
        return reply.status, reply.text

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(16)))
    assert {status for status, _ in results} == {200}
    outcomes = sorted(text.split(":")[0] for _, text in results)
    assert outcomes.count("created") == 1 and outcomes.count("unchanged") == 15
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert [p.name for p in (hub.root / "blobs").glob(f"*/{sha}")] == [sha]


def test_sixteen_clients_race_different_bytes_same_name(hub: HubProcess, owner: str,
                                                        upload_token: str,
                                                        tmp_path: Path) -> None:
    variants = [make_wheel(tmp_path / str(i), "racy", "1.0", payload=f"#{i}\n".encode())
                for i in range(16)]
    barrier = threading.Barrier(16)

    def one(i: int) -> int:
        barrier.wait()
        return upload(hub.upload_url(owner, "race"), variants[i], upload_token).status

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(one, range(16)))
    assert sorted(statuses) == [200] + [409] * 15
    winner = variants[statuses.index(200)].read_bytes()
    page = json.loads(http(hub.index_url(owner, "race") + "racy/",
                           headers={"Accept": "application/vnd.pypi.simple.v1+json"}).body)
    assert [f["hashes"]["sha256"] for f in page["files"]] == [hashlib.sha256(winner).hexdigest()]


@pytest.mark.slow
def test_kill_9_during_upload_storm_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """16 clients, 5 rounds: each round restarts the hub on the root the last one was
    killed on, storms it, and kills it mid-storm (issue 10's figure)."""
    root = tmp_path / "root"
    token = create_token(root, owner="storm", scope="upload")
    acknowledged: dict[str, str] = {}
    for round_ in range(5):
        wheels = [make_wheel(tmp_path / "dist", f"storm-{i % 40}", f"{round_}.{i}",
                             payload=b"#" + os.urandom(32 * 1024).hex().encode())
                  for i in range(160)]
        with running_hub(root) as hub:
            assert not list((root / "tmp").iterdir()), "partial uploads left after restart"
            storm = upload_storm([hub.upload_url("storm")], wheels, token, clients=16,
                                 kill_after=30, kill=lambda: os.kill(hub.pid, signal.SIGKILL))
        assert 0 < len(storm.acknowledged) < len(wheels), "the kill should land mid-storm"
        acknowledged.update(storm.acknowledged)

    with running_hub(root) as hub:
        assert not list((root / "tmp").iterdir()), "partial uploads left after restart"
        for blob in (root / "blobs").glob("*/*"):
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name, "partial blob"
        assert served_intact(hub.index_url("storm"), acknowledged) == []
