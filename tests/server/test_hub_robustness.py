"""Concurrency and crashes: racing uploads, and kill -9 in the middle of an upload storm."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPException
from pathlib import Path
from urllib.parse import urljoin

import pytest

from tests.support.dists import make_wheel
from tests.support.hub import HubProcess, http, running_hub, upload
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
    root = tmp_path / "root"
    token = create_token(root, owner="storm", scope="upload")
    wheels = [make_wheel(tmp_path / "dist", f"storm-{i % 40}", f"1.{i}",
                         payload=b"#" + os.urandom(64 * 1024).hex().encode())
              for i in range(400)]
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def worker(chunk: list[Path], url: str) -> None:
        for wheel in chunk:
            if stop.is_set():
                return
            try:
                reply = upload(url, wheel, token)
            except (OSError, HTTPException):
                return  # the server died under us (mid-request or mid-response)
            if reply.status == 200:
                with lock:
                    acknowledged[wheel.name] = hashlib.sha256(wheel.read_bytes()).hexdigest()

    with running_hub(root) as hub:
        threads = [threading.Thread(target=worker, args=(wheels[i::8], hub.upload_url("storm")))
                   for i in range(8)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(hub.pid, signal.SIGKILL)
        stop.set()
        for thread in threads:
            thread.join(30)
    assert 0 < len(acknowledged) < len(wheels), "the kill should land mid-storm"

    with running_hub(root) as hub:
        assert not list((root / "tmp").iterdir()), "partial uploads left after restart"
        for blob in (root / "blobs").glob("*/*"):
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name, "partial blob"
        served: dict[str, str] = {}
        index = http(hub.index_url("storm")).text
        for project in sorted({f"storm-{i}" for i in range(40)}):
            if f'href="{project}/"' not in index:
                continue
            page_url = hub.index_url("storm") + f"{project}/"
            page = json.loads(http(page_url, headers={
                "Accept": "application/vnd.pypi.simple.v1+json"}).body)
            for entry in page["files"]:
                body = http(urljoin(page_url, entry["url"])).body
                assert hashlib.sha256(body).hexdigest() == entry["hashes"]["sha256"]
                served[entry["filename"]] = entry["hashes"]["sha256"]
        for name, sha in acknowledged.items():
            assert served.get(name) == sha, f"acknowledged {name} lost after kill -9"
