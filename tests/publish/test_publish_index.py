"""Publishing to a real pypiserver through twine's library, and what goes wrong on the way."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.publish.conftest import TOKEN, PypiServer
from tests.support.cli import CliRunner
from tests.support.dists import Pkg, make_wheelhouse
from tests.support.pip import installed_version, pip_install
from tests.support.processes import free_port
from wheelhub.publish import PublishOptions, publish


def test_publish_to_pypiserver_then_pip_installs_and_second_run_skips(
        cli: CliRunner, pypiserver: PypiServer, wheelhouse: Path, tmp_path: Path,
        clean_venv: Path) -> None:
    env = {"WHEELHUB_TOKEN": TOKEN}
    argv = ("publish", "-w", str(wheelhouse), "--to", pypiserver.url, "--username", "ci",
            "--label", "feature-x")
    first = cli(*argv, env=env)
    assert first.code == 0, first.err
    assert first.last_line == "2 uploaded, 0 skipped, 0 failed"
    assert "--label 'feature-x' is ignored" in first.err
    assert sorted(p.name for p in pypiserver.packages.iterdir()) == [
        "alpha-1.0-py3-none-any.whl", "beta_pkg-2.0-py3-none-any.whl"]

    second = cli(*argv, env=env)
    assert second.code == 0
    assert second.last_line == "0 uploaded, 2 skipped, 0 failed"

    target = tmp_path / "site"
    proc = pip_install(clean_venv, pypiserver.url + "simple/", target, "alpha", "beta-pkg")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert installed_version(clean_venv, target, "beta_pkg") == "2.0"
    for text in (first.out, first.err, second.out, second.err):
        assert TOKEN not in text


def test_wrong_token_is_one_clear_line_naming_the_variable(
        cli: CliRunner, pypiserver: PypiServer, wheelhouse: Path) -> None:
    wrong = "whk_wrong_token_abcdefgh"
    result = cli("publish", "-w", str(wheelhouse), "--to", pypiserver.url, "--username", "ci",
                 "--label", "main", "--token-env", "CI_UPLOAD_TOKEN",
                 env={"CI_UPLOAD_TOKEN": wrong})
    assert result.code == 3
    error = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(error) == 1
    assert "$CI_UPLOAD_TOKEN (value masked)" in error[0]
    assert "HTTP 401" in error[0] or "HTTP 403" in error[0]
    print(result.err)
    assert wrong not in result.out + result.err
    assert list(pypiserver.packages.iterdir()) == []  # nothing changed


def test_same_name_different_bytes_is_a_conflict_for_that_file_only(
        pypiserver: PypiServer, tmp_path: Path) -> None:
    old = make_wheelhouse(tmp_path / "old", [Pkg("alpha", marker="old")])
    def options(wheelhouse: Path) -> PublishOptions:
        return PublishOptions(wheelhouse=wheelhouse, to=pypiserver.url, label="main",
                              token=TOKEN, username="ci")

    publish(options(old))
    new = make_wheelhouse(tmp_path / "new", [Pkg("alpha", marker="new"), Pkg("gamma")])
    result = publish(options(new))
    by_name = {f.filename: f for f in result.files}
    assert by_name["alpha-1.0-py3-none-any.whl"].status == "conflict"
    assert "bump the version" in by_name["alpha-1.0-py3-none-any.whl"].detail
    assert by_name["gamma-1.0-py3-none-any.whl"].status == "uploaded"
    assert result.summary_line() == "1 uploaded, 0 skipped, 1 failed"
    assert not result.ok


def test_409_from_the_index_is_reported_per_file(pypiserver: PypiServer, tmp_path: Path) -> None:
    """pypiserver's simple page is bypassed here, so the upload itself meets the 409."""
    old = make_wheelhouse(tmp_path / "old", [Pkg("alpha", marker="old")])
    publish(PublishOptions(wheelhouse=old, to=pypiserver.url, label="main", token=TOKEN,
                           username="ci"))
    new = make_wheelhouse(tmp_path / "new", [Pkg("alpha", marker="new")])
    options = PublishOptions(wheelhouse=new, to=pypiserver.url, label="main", token=TOKEN,
                             username="ci")
    from wheelhub.publish import open_target

    target = open_target(options)
    target.existing = lambda projects: {}  # type: ignore[method-assign]
    result = publish(options, target=target)
    (row,) = result.files
    assert row.status == "conflict"
    assert "conflict" in row.detail and "already exists" in row.detail


def test_unreachable_target_changes_nothing(cli: CliRunner, wheelhouse: Path) -> None:
    port = free_port()
    result = cli("publish", "-w", str(wheelhouse), "--to", f"http://127.0.0.1:{port}/acme",
                 "--label", "main")
    assert result.code == 3
    assert "error: cannot reach the index at http://127.0.0.1:" in result.err
    assert "connection refused" in result.err


def test_empty_wheelhouse_and_stray_files_are_refused(cli: CliRunner, tmp_path: Path) -> None:
    index = tmp_path / "index"
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("publish", "-w", str(empty), "--to", f"file://{index}", "--label", "main")
    assert result.code == 2 and "has no built wheels to publish" in result.err
    house = make_wheelhouse(tmp_path / "house", [Pkg("alpha")])
    (house / "notes.tar.gz").write_bytes(b"x")
    result = cli("publish", "-w", str(house), "--to", f"file://{index}", "--label", "main")
    assert result.code == 2
    assert "error: wheelhouse" in result.err and "'notes.tar.gz'" in result.err
    assert not index.exists()


def test_invalid_label_is_refused_before_anything(cli: CliRunner, wheelhouse: Path,
                                                  tmp_path: Path) -> None:
    index = tmp_path / "index"
    result = cli("publish", "-w", str(wheelhouse), "--to", f"file://{index}",
                 "--label", "../etc")
    assert result.code == 2 and "error: label '../etc' is not valid" in result.err
    assert not index.exists()


def test_only_good_wheels_are_published(cli: CliRunner, tmp_path: Path) -> None:
    house = make_wheelhouse(tmp_path / "house", [
        Pkg("good"), Pkg("untested", test="untested"), Pkg("badtest", test="failed"),
        Pkg("broken", build="failed")])
    index = tmp_path / "index"
    result = cli("publish", "-w", str(house), "--to", f"file://{index}", "--label", "main")
    assert result.code == 0
    assert result.last_line == "1 uploaded, 0 skipped, 0 failed"
    assert "not published: untested-1.0-py3-none-any.whl (untested)" in result.err
    assert "not published: badtest-1.0-py3-none-any.whl (test failed)" in result.err
    result = cli("publish", "-w", str(house), "--to", f"file://{index}", "--label", "main",
                 "--allow-untested")
    assert result.last_line == "1 uploaded, 1 skipped, 0 failed"
    assert sorted(p.name for p in (index / "main" / "simple").iterdir()
                  if p.is_dir()) == ["good", "untested"]


def test_untested_only_wheelhouse_asks_for_allow_untested(cli: CliRunner, tmp_path: Path) -> None:
    house = make_wheelhouse(tmp_path / "house", [Pkg("alpha", test="untested")])
    result = cli("publish", "-w", str(house), "--to", f"file://{tmp_path}/i", "--label", "main")
    assert result.code == 2
    assert "1 untested" in result.err and "--allow-untested" in result.err


# --- a network that drops connections --------------------------------------------------------


class DroppingProxy:
    """Loopback TCP proxy that cuts the first *drops* upload connections mid-request."""

    def __init__(self, upstream_port: int, drops: int) -> None:
        self.upstream_port = upstream_port
        self.drops = drops
        self.dropped = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        first = client.recv(65536)
        if first.startswith(b"POST") and self.dropped < self.drops:
            self.dropped += 1
            linger_zero = struct.pack("ii", 1, 0)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_zero)
            client.close()  # RST in the middle of the upload
            return
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        upstream.sendall(first)

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@pytest.fixture
def proxy_factory(pypiserver: PypiServer) -> Iterator[type[DroppingProxy]]:
    proxies: list[DroppingProxy] = []
    port = int(pypiserver.url.rstrip("/").rsplit(":", 1)[1])

    class Bound(DroppingProxy):
        def __init__(self, drops: int) -> None:
            super().__init__(port, drops)
            proxies.append(self)

    yield Bound
    for proxy in proxies:
        proxy.close()


def test_network_drop_is_retried_then_succeeds(
        pypiserver: PypiServer, proxy_factory: type[DroppingProxy], wheelhouse: Path) -> None:
    proxy = proxy_factory(2)  # type: ignore[call-arg]
    result = publish(PublishOptions(
        wheelhouse=wheelhouse, to=f"http://127.0.0.1:{proxy.port}/", label="main", token=TOKEN,
        username="ci", jobs=1, backoff=0.01))
    assert result.summary_line() == "2 uploaded, 0 skipped, 0 failed"
    assert proxy.dropped == 2
    assert max(f.attempts for f in result.files) >= 2


def test_network_drop_beyond_retries_is_reported_not_done(
        cli: CliRunner, pypiserver: PypiServer, proxy_factory: type[DroppingProxy],
        wheelhouse: Path) -> None:
    proxy = proxy_factory(100)  # type: ignore[call-arg]
    result = cli("publish", "-w", str(wheelhouse), "--to", f"http://127.0.0.1:{proxy.port}/",
                 "--label", "main", "--username", "ci", "--retries", "1",
                 env={"WHEELHUB_TOKEN": TOKEN})
    assert result.code == 1
    assert result.last_line == "0 uploaded, 0 skipped, 2 failed"
    assert "gave up after 2 attempts" in result.out
    assert list(pypiserver.packages.iterdir()) == []
