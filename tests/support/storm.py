"""An upload storm against one or more hub instances with a SIGKILL in the middle, and the
check after it: every acknowledged upload is served intact. Shared by the kill -9 tests
(bounded) and ``bench/hub.py`` (16 clients).

    result = upload_storm([a.upload_url("acme"), b.upload_url("acme")], wheels, token,
                          clients=8, kill_after=20, kill=lambda: os.kill(a.pid, SIGKILL),
                          victim=0)
    assert served_intact(b.index_url("acme"), result.acknowledged) == []
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from urllib.parse import urljoin

from tests.support.hub import http, upload
from wheelhub.index.simple import JSON_TYPE, parse_index, parse_project


@dataclass(kw_only=True, slots=True)
class Target:
    """What one instance answered: before the kill, and from the kill on."""

    url: str
    acknowledged_before: int = 0
    acknowledged_after: int = 0
    failed_before: int = 0  # no reply, or not 2xx
    failed_after: int = 0


@dataclass(kw_only=True, slots=True)
class StormResult:
    acknowledged: dict[str, str]  # filename -> sha256 of every upload answered 2xx
    targets: list[Target]
    killed_at: float | None = None  # seconds after the storm began
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)


def upload_storm(targets: Sequence[str], wheels: Sequence[Path], token: str, *, clients: int,
                 kill_after: int, kill: Callable[[], None], victim: int = 0,
                 timeout: float = 60.0) -> StormResult:
    """*clients* threads upload *wheels* (client i takes every clients-th wheel, to
    ``targets[i % len(targets)]``); once *kill_after* uploads are acknowledged, *kill*
    runs. Clients of ``targets[victim]`` stop at their first failure after the kill; the
    others go on to the end, so what the survivors answered from then on is counted."""
    result = StormResult(acknowledged={}, targets=[Target(url=url) for url in targets])
    killed = threading.Event()

    def client(index: int) -> None:
        target = result.targets[index % len(targets)]
        for wheel in wheels[index::clients]:
            after = killed.is_set()
            try:
                status = upload(target.url, wheel, token).status
            except (OSError, HTTPException):  # cut mid-request or mid-response
                status = 0
            with result._lock:
                if 200 <= status < 300:
                    result.acknowledged[wheel.name] = hashlib.sha256(
                        wheel.read_bytes()).hexdigest()
                    if after:
                        target.acknowledged_after += 1
                    else:
                        target.acknowledged_before += 1
                elif after or killed.is_set():
                    target.failed_after += 1
                else:
                    target.failed_before += 1
            if status == 0 and killed.is_set() and target is result.targets[victim]:
                return

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    begun = time.monotonic()
    for thread in threads:
        thread.start()
    while len(result.acknowledged) < kill_after and any(t.is_alive() for t in threads):
        if time.monotonic() - begun > timeout:
            break
        time.sleep(0.005)
    kill()
    result.killed_at = time.monotonic() - begun
    killed.set()
    for thread in threads:
        thread.join(max(1.0, timeout - (time.monotonic() - begun)))
    result.seconds = time.monotonic() - begun
    return result


def served_files(index_url: str) -> tuple[dict[str, str], list[str]]:
    """Every file the index at *index_url* lists, downloaded: filename -> sha256 of the
    bytes served, and the filenames whose bytes differ from their page's hash."""
    accept = {"Accept": JSON_TYPE}
    served: dict[str, str] = {}
    corrupt: list[str] = []
    for project in parse_index(http(index_url, headers=accept).body):
        page_url = urljoin(index_url, f"{project}/")
        page = http(page_url, headers=accept)
        for entry in parse_project(page.body, page.headers.get("content-type", "")):
            body = http(urljoin(page_url, entry.url)).body
            served[entry.filename] = hashlib.sha256(body).hexdigest()
            if served[entry.filename] != entry.sha256:
                corrupt.append(entry.filename)
    return served, corrupt


def served_intact(index_url: str, acknowledged: Mapping[str, str]) -> list[str]:
    """What is wrong with the index at *index_url* after a storm, one line each: an
    acknowledged upload missing or with other bytes, a file not matching its page."""
    served, corrupt = served_files(index_url)
    problems = [f"{name}: bytes differ from the page's sha256" for name in corrupt]
    for name, sha in sorted(acknowledged.items()):
        if name not in served:
            problems.append(f"{name}: acknowledged, not served")
        elif served[name] != sha:
            problems.append(f"{name}: acknowledged, served with other bytes")
    return problems
