"""Resources a client cannot exhaust: disk (full, then freed), sockets, time, memory."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dists import make_wheel
from tests.support.hub import HubProcess, http, running_hub, upload
from wheelhub.server import create_token

UNSHARE = shutil.which("unshare")


def _fill(path: Path) -> None:
    """Write *path* until the filesystem is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


@pytest.mark.skipif(UNSHARE is None or os.geteuid() != 0,
                    reason="needs root and unshare for a small private tmpfs")
def test_disk_full_is_507_leaves_nothing_and_recovers_without_restart(tmp_path: Path) -> None:
    seed, root = tmp_path / "seed", tmp_path / "root"
    token = create_token(seed, owner="acme", scope="upload")
    root.mkdir()
    # The hub runs in its own mount namespace on an 8 MiB tmpfs seeded with the token;
    # its files are reachable from here through /proc/<pid>/root.
    wrapper = [str(UNSHARE), "-m", "sh", "-c",
               'mount -t tmpfs -o size=8m tmpfs "$0" && cp -a "$1"/. "$0"/ && shift && '
               'exec "$@"', str(root), str(seed)]
    first = make_wheel(tmp_path / "d", "first", "1.0")
    small = make_wheel(tmp_path / "d", "small", "1.0")
    with running_hub(root, wrapper=wrapper) as hub:
        inside = Path(f"/proc/{hub.pid}/root") / str(root).lstrip("/")
        assert upload(hub.upload_url("acme"), first, token).status == 200
        _fill(inside / "filler")
        for _ in range(3):
            full = upload(hub.upload_url("acme"), small, token)
            assert full.status == 507 and "out of disk space" in full.text, full.text
            assert not list((inside / "tmp").iterdir()), "partial upload left behind"
        assert http(hub.index_url("acme") + "first/").status == 200  # reads go on
        assert http(f"{hub.base_url}/acme/files/{first.name}").body == first.read_bytes()
        (inside / "filler").unlink()
        again = upload(hub.upload_url("acme"), small, token)
        assert again.status == 200, again.text
        assert http(hub.index_url("acme") + "small/").status == 200


def _send(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the server may have closed it already
        sock.sendall(data)


def _port(hub: HubProcess) -> int:
    return int(hub.base_url.rsplit(":", 1)[1])


def _closed_by_server(sock: socket.socket) -> bool:
    """Did the server close *sock* (EOF or reset), reading whatever it answered first?"""
    sock.settimeout(0.2)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


@pytest.fixture(scope="module")
def strict_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    root = tmp_path_factory.mktemp("strict") / "root"
    with running_hub(root, extra_args=["--header-timeout", "1", "--body-timeout", "1",
                                       "--keep-alive-timeout", "1",
                                       "--max-connections", "120"]) as hub:
        yield hub


def test_idle_slow_and_slow_body_clients_are_cut_off(strict_hub: HubProcess) -> None:
    port = _port(strict_hub)
    token = create_token(strict_hub.root, owner="slow", scope="upload")
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(60)]
    slow_headers = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
    slow_body = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
    kept_alive = socket.create_connection(("127.0.0.1", port))
    kept_alive.sendall(b"GET /_health HTTP/1.1\r\nHost: x\r\n\r\n")
    basic = base64.b64encode(f"__token__:{token}".encode())
    for number, sock in enumerate(slow_body):  # half of them authorized, half refused
        auth = b"Authorization: Basic " + basic + b"\r\n" if number % 2 else b""
        sock.sendall(b"POST /slow/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n" + auth
                     + b"Content-Type: multipart/form-data; boundary=b\r\n\r\n")
    for sock in slow_headers:
        sock.sendall(b"GET /_health HTTP/1.1\r\n")
    started = time.monotonic()
    health: list[float] = []
    while time.monotonic() - started < 3.5:
        for sock in slow_headers:
            _send(sock, b"X-Slow: 1\r\n")
        for sock in slow_body:
            _send(sock, b"x")
        begun = time.perf_counter()
        assert http(strict_hub.base_url + "/_health").status == 200
        health.append(time.perf_counter() - begun)
        time.sleep(0.5)
    held = [sock for sock in [*idle, *slow_headers, *slow_body, kept_alive]
            if not _closed_by_server(sock)]
    for sock in [*idle, *slow_headers, *slow_body, kept_alive]:
        sock.close()
    assert held == [], f"{len(held)} connections held past the timeouts"
    assert max(health) < 0.05, f"/_health took {max(health) * 1000:.0f} ms"


def test_connections_beyond_the_limit_are_closed(strict_hub: HubProcess) -> None:
    port = _port(strict_hub)
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(150)]
    time.sleep(0.3)
    closed = sum(_closed_by_server(sock) for sock in sockets)
    for sock in sockets:
        sock.close()
    assert closed >= 30, closed
    assert http(strict_hub.base_url + "/_health").status == 200


def _peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


@pytest.mark.slow
def test_a_200_mb_upload_streams_to_disk(tmp_path: Path) -> None:
    root = tmp_path / "root"
    token = create_token(root, owner="big", scope="upload")
    wheel = make_wheel(tmp_path / "d", "big", "1.0", payload=b"#" + os.urandom(201 * 1024 * 1024))
    assert wheel.stat().st_size > 200 * 1024 * 1024
    with running_hub(root, extra_args=["--max-upload-size", "400M"]) as hub:
        http(hub.index_url("big"))
        before = _peak_rss_mib(hub.pid)
        reply = upload(hub.upload_url("big"), wheel, token)
        growth = _peak_rss_mib(hub.pid) - before
    assert reply.status == 200, reply.text
    assert growth <= 64, f"peak RSS grew {growth:.0f} MiB during a 200 MB upload"
