"""Benchmark the hub against pypiserver (waitress), devpi-server and nginx, in one run.

    .venv/bin/python bench/hub.py                 # full run (a few minutes)
    .venv/bin/python bench/hub.py --quick         # smaller corpus, shorter load phases

Everything runs on 127.0.0.1 with the same corpus (>= 1,500 tiny wheels in >= 300
projects). devpi-server is pip-installed into its own venv under /tmp on first use;
nginx comes from Debian (scripts/install-system-deps.sh) and serves a static export of
the hub's precomputed pages. For each server it prints req/s and p50/p99 latency at
concurrency 1 and 16 for ``/simple/<p>/``, ``/simple/`` and a file GET; twine upload
files/s; ``pip install --dry-run`` time; startup time; RSS. Then the hub alone: upload
rate at concurrency 8 and ``/simple/<p>/`` with ~1.5k vs ~100k files in the store.
Scaling out (issue 15): ``/simple/<p>/`` at 16 clients through ``deploy/nginx.conf`` in
front of a hub writing ``--static-dir`` vs the plain nginx peer (interleaved, best of 3
each; target >= 0.8x), and uploads/s at 8 clients on SQLite, SQLite with ``--static-dir``,
and PostgreSQL (Debian's, fsync on, started in a temp dir) with 1 and 2 workers; and
two instances on that PostgreSQL and one root under a 16-client upload storm, one killed
by SIGKILL a third of the way in: every acknowledged upload fetched through the survivor
and its sha256 compared, and what the survivor answered after the kill
(``--skip front,scaling,failover`` leaves them out).

One full run (2026-11-21, 2 cores, 1,501 wheels in 301 projects, client on the same box):

    /simple/<p>/ c=16   wheelhub 23,857 req/s p99 1.04 ms | devpi 933 (25.6x) p99 26.2 ms |
                        pypiserver 31 (780x) p99 601 ms | nginx static 69,720 p99 0.33 ms
    /simple/ c=16       wheelhub 22,917 | devpi 903 | pypiserver 31 | nginx 69,403
    file GET c=16       wheelhub 14,084 | devpi 828 | pypiserver 64 | nginx 78,907
    uploads             wheelhub 241/s (8 clients), twine 177/s | pypiserver twine 55/s |
                        devpi twine 10/s
    pip --dry-run       wheelhub 0.36 s | pypiserver 0.65 | devpi 0.30 | nginx 0.28
    startup / idle RSS  wheelhub 0.20 s / 39.5 MiB | pypiserver 0.11 s / 30 MiB |
                        devpi 3.4 s / 66 MiB | nginx 0.01 s / 11 MiB
    scale               /simple/<p>/ c=16: 22,811 req/s at 1.5k files, 20,040 at +100k files
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test support package lives beside wheelhub

from tests.support.dists import make_wheel  # noqa: E402
from tests.support.hub import multipart, upload, upload_form  # noqa: E402
from tests.support.nginx import NGINX, running_nginx  # noqa: E402
from tests.support.pip import offline_pip_env  # noqa: E402
from tests.support.postgres import running_postgres  # noqa: E402
from tests.support.processes import free_port  # noqa: E402
from tests.support.storm import served_intact, upload_storm  # noqa: E402
from wheelhub.index import urls  # noqa: E402
from wheelhub.index.names import DEFAULT_LABEL  # noqa: E402
from wheelhub.index.simple import METADATA_SUFFIX, render_index, render_project  # noqa: E402
from wheelhub.server import create_token, open_storage  # noqa: E402
from wheelhub.server.sqlite import SqliteStorage  # noqa: E402
from wheelhub.server.storage import FileRecord  # noqa: E402

BIN = Path(sys.executable).parent
DEVPI_VENV = Path("/tmp/wheelhub-bench-devpi")
OWNER = "bench"


# -- load generation --------------------------------------------------------------------


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _worker(host: str, port: int, paths: Sequence[str], start: int, step: int,
                  deadline: float, max_requests: int, out: LoadResult) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    index = start
    loop = asyncio.get_running_loop()
    try:
        while loop.time() < deadline and out.requests < max_requests:
            path = paths[index % len(paths)]
            index += step
            begun = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                         "User-Agent: wheelhub-bench\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            headers = head.lower()
            match = re.search(rb"\r\ncontent-length:\s*(\d+)", headers)
            if match:
                await reader.readexactly(int(match.group(1)))
            elif b"transfer-encoding: chunked" in headers:
                while True:
                    size = int((await reader.readline()).strip().split(b";")[0], 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            out.latencies.append(time.perf_counter() - begun)
            out.requests += 1
            if status != 200:
                out.errors += 1
            if b"connection: close" in headers:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


def load(base_url: str, paths: Sequence[str], *, concurrency: int, seconds: float,
         max_requests: int = 200_000) -> LoadResult:
    """Keep-alive GETs over *concurrency* connections for *seconds*, cycling through paths."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    out = LoadResult(requests=0, seconds=0.0, latencies=[], errors=0)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        begun = loop.time()
        deadline = begun + seconds
        await asyncio.gather(*(_worker(host, port, paths, i, concurrency, deadline,
                                       max_requests, out) for i in range(concurrency)))
        out.seconds = loop.time() - begun

    asyncio.run(run())
    return out


# -- process helpers -----------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """*pid* and its descendants, as far as they still run."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
        found.append(current)
    return found


def rss_mib(pid: int) -> float:
    """RSS of a process and its children, in MiB."""
    total = 0
    for current in process_tree(pid):
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
        except (OSError, AttributeError):
            continue
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its children have used so far."""
    total = 0
    for current in process_tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def wait_for(url: str, timeout: float = 120.0) -> float:
    begun = time.perf_counter()
    while time.perf_counter() - begun < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - begun
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"{url} did not come up in {timeout}s")


def get(url: str, accept: str | None = None, auth: str | None = None) -> bytes:
    request = urllib.request.Request(url)
    if accept:
        request.add_header("Accept", accept)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    with urllib.request.urlopen(request, timeout=60) as response:
        data: bytes = response.read()
        return data


@dataclass
class Server:
    name: str
    command: list[str]
    ready_url: str
    base_url: str
    simple_root: str  # path of the /simple/ index, e.g. /bench/main/simple/
    upload_url: str | None
    upload_auth: tuple[str, str] | None
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    startup: float = 0.0
    results: dict[str, object] = field(default_factory=dict)

    def start(self, workdir: Path) -> float:
        self.log = workdir / f"{self.name}.log"
        begun = time.perf_counter()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                            env=self.env)
        wait_for(self.ready_url)
        self.startup = time.perf_counter() - begun
        return self.startup

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


# -- corpus ------------------------------------------------------------------------------


def make_corpus(directory: Path, projects: int, per_project: int) -> list[Path]:
    """projects x per_project tiny wheels; bench-app depends on the first ten projects."""
    files = []
    for p in range(projects):
        for v in range(per_project):
            files.append(make_wheel(directory, f"bench-proj-{p:04d}", f"1.{v}",
                                    requires_python=">=3.8"))
    files.append(make_wheel(directory, "bench-app", "1.0",
                            requires=[f"bench-proj-{p:04d}>=1.1" for p in range(10)]))
    return files


def upload_many(url: str, files: Sequence[Path], token: str | None, *, threads: int,
                auth: tuple[str, str] | None = None) -> float:
    """Upload concurrently with raw multipart POSTs; returns files/s."""
    begun = time.perf_counter()

    def one(path: Path) -> None:
        if auth is not None:
            user, password = auth
            reply = _upload_with_user(url, path, user, password)
        else:
            reply = upload(url, path, token).status
        if reply not in (200, 201):
            raise RuntimeError(f"upload of {path.name} to {url}: HTTP {reply}")

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, files))
    return len(files) / (time.perf_counter() - begun)


def _upload_with_user(url: str, path: Path, user: str, password: str) -> int:
    data = path.read_bytes()
    body, content_type = multipart(upload_form(path, data), path.name, data)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": content_type, "Authorization": f"Basic {auth}"})
    with urllib.request.urlopen(request, timeout=600) as response:
        status: int = response.status
        return status


def twine_rate(url: str, user: str, password: str, files: Sequence[Path]) -> float:
    begun = time.perf_counter()
    subprocess.run([str(BIN / "twine"), "upload", "--non-interactive", "--disable-progress-bar",
                    "--repository-url", url, "-u", user, "-p", password, *map(str, files)],
                   check=True, capture_output=True, timeout=1800)
    return len(files) / (time.perf_counter() - begun)


def pip_dry_run(index_url: str, requirements: Sequence[str] = ("bench-app",), *,
                python: Path | None = None) -> tuple[float, list[str]]:
    """Seconds of ``pip install --dry-run`` from *index_url* alone, and what pip would install."""
    begun = time.perf_counter()
    done = subprocess.run([str(python or sys.executable), "-m", "pip", "install", "--dry-run",
                           "--no-cache-dir", "--index-url", index_url, *requirements],
                          check=True, capture_output=True, text=True, env=offline_pip_env(),
                          timeout=600)
    seconds = time.perf_counter() - begun
    line = next((line for line in done.stdout.splitlines() if line.startswith("Would install ")),
                "")
    return seconds, line.removeprefix("Would install ").split()


# -- the servers -------------------------------------------------------------------------


def hub_server(root: Path, *extra: str, name: str = "wheelhub") -> Server:
    """``wheelhub serve`` on *root*; *extra* arguments (``--database``, ``--workers``...)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    return Server(name=name, base_url=base, ready_url=urls.health_url(base),
                  command=[str(BIN / "wheelhub"), "serve", "--root", str(root), "--port",
                           str(port), *extra],
                  simple_root=urls.simple_url("", OWNER, DEFAULT_LABEL),
                  upload_url=urls.owner_url(base, OWNER), upload_auth=None)


def pypiserver(packages: Path) -> Server:
    """pypiserver 2 through bottle's AutoServer, which picks waitress when it is installed."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    return Server(name="pypiserver", base_url=base, ready_url=f"{base}/health",
                  command=[str(BIN / "pypi-server"), "run", "-p", str(port), "-i", "127.0.0.1",
                           "--server", "auto", "-a", ".", "-P", ".", "--disable-fallback",
                           "--log-stream", "none", str(packages)],
                  simple_root="/simple/", upload_url=f"{base}/", upload_auth=("x", "x"))


def ensure_devpi() -> Path:
    exe = DEVPI_VENV / "bin" / "devpi-server"
    if not exe.exists():
        print(f"installing devpi-server into {DEVPI_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(DEVPI_VENV)], check=True)
        subprocess.run([str(DEVPI_VENV / "bin" / "pip"), "install", "-q", "devpi-server"],
                       check=True)
    return exe


def devpi_server(serverdir: Path, *, offline: bool = True) -> Server:
    """devpi-server without root/pypi; *offline* False lets a mirror index reach upstream."""
    exe = ensure_devpi()
    if not (serverdir / ".nodeinfo").exists():
        subprocess.run([str(DEVPI_VENV / "bin" / "devpi-init"), "--serverdir", str(serverdir),
                        "--root-passwd", "root", "--no-root-pypi"], check=True,
                       capture_output=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    return Server(name="devpi", base_url=base, ready_url=f"{base}/+api",
                  command=[str(exe), "--serverdir", str(serverdir), "--host", "127.0.0.1",
                           "--port", str(port), *(["--offline-mode"] if offline else [])],
                  simple_root="/bench/main/+simple/", upload_url=f"{base}/bench/main/",
                  upload_auth=("bench", "benchpw"))


def devpi_call(server: Server, method: str, path: str, data: object,
               auth: tuple[str, str] | None) -> None:
    """One request to devpi's JSON API; 409 (it exists already) is fine."""
    request = urllib.request.Request(server.base_url + path, method=method,
                                     data=json.dumps(data).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Accept": "application/json"})
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        urllib.request.urlopen(request, timeout=60).close()
    except urllib.error.HTTPError as error:
        if error.code != 409:
            raise


def devpi_setup(server: Server) -> None:
    """Create user bench and index bench/main (no bases) through devpi's JSON API."""
    devpi_call(server, "PUT", "/bench", {"password": "benchpw"}, None)
    devpi_call(server, "PUT", "/bench/main", {"bases": [], "volatile": True}, ("bench", "benchpw"))


def nginx_server(static: Path, workdir: Path, *, name: str = "nginx", http_extra: str = "",
                 locations: str = "location / { index index.html; }") -> Server:
    """Debian's nginx serving *static*; *http_extra* and *locations* go into its config."""
    port = free_port()
    conf = workdir / f"{name}.conf"
    conf.write_text(f"""
user root;
worker_processes 1;
daemon off;
pid {workdir}/{name}.pid;
error_log {workdir}/{name}-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    include /etc/nginx/mime.types;
    sendfile on;
    keepalive_requests 1000000;
    {http_extra}
    server {{
        listen 127.0.0.1:{port};
        root {static};
        {locations}
    }}
}}
""")
    base = f"http://127.0.0.1:{port}"
    return Server(name=name, base_url=base, ready_url=f"{base}/simple/",
                  command=["/usr/sbin/nginx", "-c", str(conf), "-p", str(workdir)],
                  simple_root="/simple/", upload_url=None, upload_auth=None)


def export_static(root: Path, owner: str, label: str, dest: Path) -> None:
    """The hub's precomputed HTML pages and files as a static tree nginx can serve.

    The tree keeps the hub's ``simple/`` and ``files/`` side by side, so the pages' relative
    file links work unchanged.
    """
    storage = SqliteStorage(root)
    simple, files_dir = dest / urls.SIMPLE_SEGMENT, dest / urls.FILES_SEGMENT
    try:
        files = storage.list_files(owner, label)
        simple.mkdir(parents=True)
        files_dir.mkdir()
        index = storage.page(owner, label, "", json=False, gzip=False).page
        assert index is not None
        (simple / "index.html").write_bytes(index.body)
        for project in sorted({f.project for f in files}):
            page = storage.page(owner, label, project, json=False, gzip=False).page
            assert page is not None
            (simple / project).mkdir()
            (simple / project / "index.html").write_bytes(page.body)
        for record in files:
            os.link(storage.blob_path(record.sha256), files_dir / record.filename)
            metadata = storage.core_metadata(owner, label, record.filename)
            assert metadata is not None
            (files_dir / f"{record.filename}{METADATA_SUFFIX}").write_bytes(metadata)
    finally:
        storage.close()


# -- the measurements --------------------------------------------------------------------


def first_file_path(server: Server, project: str) -> str:
    page_url = f"{server.base_url}{server.simple_root}{project}/"
    html = get(page_url).decode()
    href = re.search(r'href="([^"#]+)', html)
    assert href, f"no file link on {page_url}"
    return str(urlsplit(urljoin(page_url, str(href.group(1)))).path)


def measure_reads(server: Server, projects: Sequence[str], seconds: float) -> None:
    file_paths = [first_file_path(server, p) for p in projects[:20]]
    targets: dict[str, list[str]] = {
        "/simple/<p>/": [f"{server.simple_root}{p}/" for p in projects],
        "/simple/": [server.simple_root],
        "file": file_paths,
    }
    for name, paths in targets.items():
        for concurrency in (1, 16):
            load(server.base_url, paths[:50], concurrency=concurrency, seconds=0.3)  # warm up
            result = load(server.base_url, paths, concurrency=concurrency, seconds=seconds)
            server.results[f"{name} c={concurrency}"] = result
            print(f"  {server.name:<10} {name:<13} c={concurrency:<2}  {result.rps:9.0f} req/s  "
                  f"p50 {result.pct(0.50):7.2f} ms  p99 {result.pct(0.99):7.2f} ms"
                  f"{f'  errors {result.errors}' if result.errors else ''}", flush=True)


def bulk_fill(root: Path, *, owner: str, label: str, files: int, per_project: int) -> float:
    """Add *files* file rows (sharing one stored blob) to a label, pages rendered as at upload.

    Uploading 100k files through HTTP would take minutes without telling anything new
    about serving, so the rows go in directly through the storage's own transaction and
    page renderer.
    """
    storage = SqliteStorage(root)
    begun = time.perf_counter()
    try:
        template = storage.list_files(owner, DEFAULT_LABEL)[0]
        with storage._write() as tx:
            label_id = storage._label_id(tx, owner, label, create=True)
            owner_id = tx.execute("SELECT id FROM owners WHERE name=?", (owner,)).fetchone()[0]
            metadata = tx.execute("SELECT metadata FROM files WHERE sha256=?",
                                  (template.sha256,)).fetchone()[0]
            projects = files // per_project
            now = time.time()
            for p in range(projects):
                name = f"big-{p:06d}"
                rows = []
                records = []
                for v in range(per_project):
                    filename = f"big_{p:06d}-1.{v}-py3-none-any.whl"
                    rows.append((owner_id, filename, name, name, f"1.{v}", "bdist_wheel", "py3",
                                 "any", template.size, template.sha256, template.md5,
                                 template.blake2_256, ">=3.8", None, metadata,
                                 template.metadata_sha256, now))
                    records.append(FileRecord(
                        filename=filename, project=name, display_name=name, version=f"1.{v}",
                        kind="bdist_wheel", python_tags=("py3",), platform_tags=("any",),
                        size=template.size, sha256=template.sha256, md5=template.md5,
                        blake2_256=template.blake2_256, requires_python=">=3.8", summary=None,
                        metadata_sha256=template.metadata_sha256, uploaded=now))
                tx.executemany(
                    "INSERT INTO files(owner_id, filename, project, display_name, version, kind, "
                    "python_tags, platform_tags, size, sha256, md5, blake2_256, "
                    "requires_python, summary, metadata, metadata_sha256, uploaded) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                for row in rows:
                    tx.execute(
                        "INSERT INTO label_files(label_id, file_id, project, added) "
                        "SELECT ?, id, project, uploaded FROM files "
                        "WHERE owner_id=? AND filename=?", (label_id, owner_id, row[1]))
                storage._store_page(tx, label_id, name,
                                    render_project(name, [r.index_file() for r in records]))
            names = [(f"big-{p:06d}", f"big-{p:06d}") for p in range(projects)]
            storage._store_page(tx, label_id, "", render_index(names))
    finally:
        storage.close()
    return time.perf_counter() - begun


def table(servers: Sequence[Server]) -> None:
    hub = servers[0]
    print("\n== results (ratio = wheelhub / peer; for latency, peer / wheelhub) ==")
    keys = [k for k in hub.results
            if isinstance(hub.results[k], LoadResult) and not k.startswith("scale")]
    header = f"{'metric':<26}" + "".join(f"{s.name:>22}" for s in servers)
    print(header)
    for key in keys:
        getters: list[tuple[str, Callable[[LoadResult], float]]] = [
            ("req/s", lambda r: r.rps), ("p50 ms", lambda r: r.pct(0.5)),
            ("p99 ms", lambda r: r.pct(0.99))]
        for label, get_value in getters:
            line = f"{key + ' ' + label:<26}"
            mine_result = hub.results[key]
            assert isinstance(mine_result, LoadResult)
            mine = get_value(mine_result)
            for server in servers:
                value = server.results.get(key)
                if not isinstance(value, LoadResult):
                    line += f"{'-':>22}"
                    continue
                theirs = get_value(value)
                ratio = "" if server is hub else (
                    f" ({mine / theirs:5.1f}x)" if label == "req/s" and theirs
                    else f" ({theirs / mine:5.1f}x)" if mine else "")
                line += f"{theirs:>13.2f}{ratio:>9}"
            print(line)
    for key in ("upload files/s c=8", "twine upload files/s", "pip --dry-run s", "startup s",
                "idle RSS MiB", "RSS after load MiB"):
        line = f"{key:<26}"
        for server in servers:
            value = server.results.get(key)
            line += f"{value:>22.2f}" if isinstance(value, float) else f"{'-':>22}"
        print(line)
    small, big = hub.results.get("scale: small c=16"), hub.results.get("scale: big c=16")
    if isinstance(small, LoadResult) and isinstance(big, LoadResult):
        print(f"wheelhub /simple/<p>/ c=16, corpus label vs the big label: "
              f"{small.rps:.0f} vs {big.rps:.0f} req/s, p99 {small.pct(0.99):.2f} vs "
              f"{big.pct(0.99):.2f} ms")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=300)
    parser.add_argument("--per-project", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0, help="per load phase")
    parser.add_argument("--big", type=int, default=100_000, help="files for the scale test")
    parser.add_argument("--twine-files", type=int, default=100)
    parser.add_argument("--skip", default="", help="comma list: pypiserver,devpi,nginx,front,scaling,failover")
    parser.add_argument("--quick", action="store_true", help="short phases, small scale test")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.big, args.twine_files = 1.0, 10_000, 30
    skip = set(filter(None, args.skip.split(",")))
    work = Path(tempfile.mkdtemp(prefix="wheelhub-bench-"))
    print(f"work directory: {work}", flush=True)
    try:
        return run(args, work, skip)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def settle(server: Server) -> None:
    """Record idle RSS half a second after startup."""
    time.sleep(0.5)
    if server.process is not None:
        server.results["idle RSS MiB"] = rss_mib(server.process.pid)


def start_hub_with_corpus(work: Path, corpus: Sequence[Path]) -> tuple[Server, str]:
    root = work / "hub"
    token = create_token(root, owner=OWNER, scope="upload")
    hub = hub_server(root)
    hub.start(work)
    rate = upload_many(hub.upload_url or "", corpus, token, threads=8)
    hub.results["upload files/s c=8"] = rate
    print(f"  wheelhub: {len(corpus)} uploads at c=8: {rate:.0f} files/s", flush=True)
    hub.stop()
    hub.results["startup s"] = hub.start(work)
    settle(hub)
    return hub, token


def start_peers(work: Path, corpus: Sequence[Path], skip: set[str],
                stops: list[Callable[[], None]]) -> list[Server]:
    peers: list[Server] = []
    if "pypiserver" not in skip:
        packages = work / "pypiserver"
        packages.mkdir()
        for path in corpus:
            os.link(path, packages / path.name)
        server = pypiserver(packages)
        stops.append(server.stop)
        server.results["startup s"] = server.start(work)
        settle(server)
        peers.append(server)
    if "devpi" not in skip:
        server = devpi_server(work / "devpi")
        stops.append(server.stop)
        server.start(work)
        devpi_setup(server)
        # devpi serializes writes; more clients only make each request wait longer
        rate = upload_many(server.upload_url or "", corpus, None, threads=2,
                           auth=server.upload_auth)
        print(f"  devpi: {len(corpus)} uploads at c=2: {rate:.0f} files/s", flush=True)
        server.results["upload files/s c=8"] = rate
        server.stop()
        server.results["startup s"] = server.start(work)
        settle(server)
        peers.append(server)
    if "nginx" not in skip and Path("/usr/sbin/nginx").exists():
        static = work / "static"
        export_static(work / "hub", OWNER, DEFAULT_LABEL, static)
        server = nginx_server(static, work)
        stops.append(server.stop)
        server.results["startup s"] = server.start(work)
        settle(server)
        peers.append(server)
    return peers


def measure_clients(servers: Sequence[Server], work: Path, token: str, count: int) -> None:
    print("\n== pip install --dry-run bench-app (11 projects) ==", flush=True)
    for server in servers:
        seconds, _ = pip_dry_run(f"{server.base_url}{server.simple_root}")
        server.results["pip --dry-run s"] = seconds
        print(f"  {server.name:<10} {seconds:6.2f} s", flush=True)
    print(f"\n== twine upload of {count} new wheels ==", flush=True)
    for server in servers:
        if server.upload_url is None:
            continue
        user, password = server.upload_auth or ("__token__", token)
        files = [make_wheel(work / f"extra-{server.name}", f"bench-upload-{i:04d}", "1.0")
                 for i in range(count)]
        rate = twine_rate(server.upload_url, user, password, files)
        server.results["twine upload files/s"] = rate
        print(f"  {server.name:<10} {rate:6.1f} files/s", flush=True)


def measure_scale(hub: Server, projects: Sequence[str], corpus_size: int, big: int,
                  seconds: float) -> None:
    """/simple/<p>/ on the corpus label vs a label of *big* files in the same store."""
    print(f"\n== wheelhub: /simple/<p>/ with {corpus_size} vs +{big} files ==", flush=True)
    assert hub.log is not None
    fill = bulk_fill(Path(hub.command[hub.command.index("--root") + 1]), owner=OWNER,
                     label="big", files=big, per_project=5)
    print(f"  filled {big} files in {fill:.1f} s", flush=True)
    big_paths = [urls.simple_url("", OWNER, "big", f"big-{p:06d}")
                 for p in range(0, big // 5, max(1, big // 5 // 300))]
    small = load(hub.base_url, [urls.simple_url("", OWNER, DEFAULT_LABEL, p) for p in projects],
                 concurrency=16, seconds=seconds)
    large = load(hub.base_url, big_paths, concurrency=16, seconds=seconds)
    for name, result in (("small label", small), ("big label", large)):
        print(f"  {name:<12} {result.rps:9.0f} req/s  p50 {result.pct(0.5):6.2f} ms  "
              f"p99 {result.pct(0.99):6.2f} ms", flush=True)
    hub.results["scale: small c=16"] = small
    hub.results["scale: big c=16"] = large


def measure_front(work: Path, plain: Server | None, projects: Sequence[str],
                  seconds: float) -> dict[str, float]:
    """/simple/<p>/ through deploy/nginx.conf in front of a hub writing --static-dir, and
    the plain nginx peer serving an export of the same pages, back to back."""
    print("\n== /simple/<p>/ c=16: nginx front (deploy/nginx.conf) vs plain nginx ==",
          flush=True)
    static = work / "front-static"
    hub = hub_server(work / "hub", "--static-dir", str(static), name="wheelhub-front")
    hub.start(work)
    results: dict[str, float] = {}
    try:
        with running_nginx(static, [hub.base_url.removeprefix("http://")],
                           work / "front") as front:
            peers = [("nginx front", front, urls.simple_url("", OWNER, DEFAULT_LABEL))]
            if plain is not None:
                peers.append(("plain nginx", plain.base_url, plain.simple_root))
            # Interleaved rounds, best of each: a busy box shifts one phase, not the ratio.
            for _round in range(3):
                for name, base, root in peers:
                    paths = [f"{root}{p}/" for p in projects]
                    load(base, paths[:50], concurrency=16, seconds=0.3)  # warm up
                    result = load(base, paths, concurrency=16, seconds=seconds)
                    results[name] = max(results.get(name, 0.0), result.rps)
                    print(f"  {name:<12} {result.rps:9.0f} req/s  p50 {result.pct(0.5):6.2f} ms"
                          f"  p99 {result.pct(0.99):6.2f} ms"
                          f"{f'  errors {result.errors}' if result.errors else ''}", flush=True)
    finally:
        hub.stop()
    if "plain nginx" in results:
        ratio = results["nginx front"] / results["plain nginx"]
        results["ratio"] = ratio
        print(f"  front / plain, best of 3 each: {ratio:.2f}x (target >= 0.8x)", flush=True)
    return results


def measure_upload_scaling(work: Path, count: int) -> dict[str, float]:
    """Uploads/s at 8 clients: SQLite single, PostgreSQL (fsync on) with 1 and 2 workers,
    and SQLite writing --static-dir (what the mirror costs an upload)."""
    print(f"\n== uploads of {count} wheels at c=8: SQLite vs PostgreSQL workers ==", flush=True)
    files = [make_wheel(work / "scaling", f"bench-up-{i:04d}", "1.0") for i in range(count)]
    results: dict[str, float] = {}
    # Its own temp dir: the server's user cannot pass through the 0700 work directory.
    pg_dir = Path(tempfile.mkdtemp(prefix="wheelhub-bench-pg-"))
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, pg_dir, ignore_errors=True)
        postgres = cleanup.enter_context(running_postgres(pg_dir, durable=True))
        setups: list[tuple[str, tuple[str, ...]]] = [
            ("SQLite single", ()),
            ("SQLite + static dir", ("--static-dir", str(work / "scaling-static"))),
            ("PostgreSQL 1 worker", ("--database", postgres.new_database())),
            ("PostgreSQL 2 workers", ("--database", postgres.new_database(), "--workers", "2")),
        ]
        for index, (name, extra) in enumerate(setups):
            root = work / f"scaling-{index}"
            if extra[:1] == ("--database",):
                open_storage(root, extra[1]).close()  # the root remembers its database
            token = create_token(root, owner=OWNER, scope="upload")
            hub = hub_server(root, *extra, name=name)
            hub.start(work)
            try:
                rate = upload_many(hub.upload_url or "", files, token, threads=8)
            finally:
                hub.stop()
            results[name] = rate
            print(f"  {name:<22} {rate:7.0f} files/s", flush=True)
    return results


def measure_failover(work: Path, clients: int = 16, per_client: int = 20) -> dict[str, float]:
    """Two instances on one PostgreSQL (fsync on) and one root, *clients* uploading over
    both; one gets SIGKILL a third of the way in. Then every acknowledged upload is
    fetched through the survivor and its sha256 compared."""
    print(f"\n== kill one of two instances during a {clients}-client upload storm ==",
          flush=True)
    wheels = [make_wheel(work / "failover", f"bench-storm-{i % 40}", f"1.{i}",
                         payload=b"#" + os.urandom(32 * 1024).hex().encode())
              for i in range(clients * per_client)]
    pg_dir = Path(tempfile.mkdtemp(prefix="wheelhub-bench-pg-"))
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, pg_dir, ignore_errors=True)
        postgres = cleanup.enter_context(running_postgres(pg_dir, durable=True))
        root = work / "failover-root"
        open_storage(root, postgres.new_database()).close()  # the root remembers it
        token = create_token(root, owner=OWNER, scope="upload")
        victim, survivor = (hub_server(root, name=name) for name in ("victim", "survivor"))
        for server in (victim, survivor):
            cleanup.callback(server.stop)
            server.start(work)
        assert victim.process is not None
        storm = upload_storm([victim.upload_url or "", survivor.upload_url or ""], wheels,
                             token, clients=clients, kill_after=len(wheels) // 3,
                             kill=victim.process.kill, timeout=600)
        lost, kept = storm.targets
        problems = served_intact(f"{survivor.base_url}{survivor.simple_root}",
                                 storm.acknowledged)
    results = {"uploads": float(len(wheels)), "acknowledged": float(len(storm.acknowledged)),
               "killed at s": storm.killed_at or 0.0, "storm s": storm.seconds,
               "victim acknowledged": float(lost.acknowledged_before),
               "victim cut": float(lost.failed_after),
               "survivor acknowledged after kill": float(kept.acknowledged_after),
               "survivor failed": float(kept.failed_before + kept.failed_after),
               "missing or altered": float(len(problems))}
    print(f"  {len(wheels)} uploads by {clients} clients; SIGKILL at {storm.killed_at:.2f} s "
          f"after {lost.acknowledged_before + kept.acknowledged_before} acknowledged\n"
          f"  victim: {lost.acknowledged_before} acknowledged, {lost.failed_after} cut by the "
          f"kill\n  survivor: {kept.acknowledged_before} acknowledged before the kill, "
          f"{kept.acknowledged_after} after, {kept.failed_before + kept.failed_after} failed"
          f"\n  acknowledged {len(storm.acknowledged)}, served intact by the survivor "
          f"{len(storm.acknowledged) - len(problems)} (missing or altered: {len(problems)})",
          flush=True)
    for problem in problems[:10]:
        print(f"    {problem}", flush=True)
    return results


def run(args: argparse.Namespace, work: Path, skip: set[str]) -> int:
    corpus = make_corpus(work / "corpus", args.projects, args.per_project)
    projects = [f"bench-proj-{p:04d}" for p in range(args.projects)]
    print(f"corpus: {len(corpus)} wheels in {args.projects + 1} projects", flush=True)
    stops: list[Callable[[], None]] = []
    try:
        hub, token = start_hub_with_corpus(work, corpus)
        stops.append(hub.stop)
        servers = [hub, *start_peers(work, corpus, skip, stops)]
        print("\n== reads ==", flush=True)
        for server in servers:
            measure_reads(server, projects, args.seconds)
            if server.process is not None:
                server.results["RSS after load MiB"] = rss_mib(server.process.pid)
        measure_clients(servers, work, token, args.twine_files)
        if "front" not in skip and NGINX.exists():
            plain = next((s for s in servers if s.name == "nginx"), None)
            hub.results["front"] = measure_front(work, plain, projects, args.seconds)
        if "scaling" not in skip:
            hub.results["upload scaling"] = measure_upload_scaling(work, args.twine_files * 3)
        if "failover" not in skip:
            hub.results["failover"] = measure_failover(work)
        measure_scale(hub, projects, len(corpus), args.big, args.seconds)
        table(servers)
        if args.json:
            args.json.write_text(json.dumps({
                s.name: {k: ({"rps": v.rps, "p50_ms": v.pct(0.5), "p99_ms": v.pct(0.99)}
                             if isinstance(v, LoadResult) else v)
                         for k, v in s.results.items()} for s in servers}, indent=2))
        return 0
    finally:
        for stop in reversed(stops):
            stop()


if __name__ == "__main__":
    sys.exit(main())
