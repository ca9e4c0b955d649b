"""Benchmark the hub's upstream proxy against pip straight and devpi's mirror, in one run.

    .venv/bin/python bench/upstream.py              # ~2 minutes once the closure is cached
    .venv/bin/python bench/upstream.py --repeat 5   # more samples per figure (medians)

The upstream is a real closure from PyPI (``pip download --only-binary :all:`` of SET, made
once into /tmp/wheelhub-bench-upstream/ by a fresh venv's pip, the same pip that resolves
below) served on loopback by Debian's nginx as a PEP 503/691 index with PEP 658 metadata,
like PyPI. The hub (an owner whose upstream is that index) and devpi-server's root/pypi (a
mirror index with ``mirror_url`` on it; devpi installed into its own venv under /tmp on
first use, as in bench/hub.py) proxy it. Each repeat times ``pip install --dry-run
--no-cache-dir --index-url X SET`` (fresh venv's pip, no pip config) for X = the upstream
straight, the hub cold (fresh root), the hub warm (the same hub again), devpi cold (fresh
server dir) and devpi warm, and checks every path resolves the same closure. Targets
(issue 11): hub warm <= devpi warm; hub cold <= 1.5x straight.

One run (2026-11-22, 2 cores shared with other helpers' Docker tests, 38 projects / 21 MB
of wheels, pip 23.2.1, which in --dry-run still downloads every wheel; 5 runs each):

    path        median s  min s  max s  median/straight  server CPU s
    straight        1.60   1.50   2.05        1.00x           0.02
    hub cold        2.47   2.28   3.52        1.54x           0.54
    hub warm        1.73   1.50   2.78        1.08x           0.08
    devpi cold      2.62   2.07   3.07        1.63x           0.87
    devpi warm      1.74   1.63   2.05        1.09x           0.23
    hub warm / devpi warm  median 0.99  best 0.92  (target <= 1.00: met)
    hub cold / straight    median 1.54  best 1.52  (target <= 1.50: missed by a hair)

The next run (load average 5.5) gave warm 0.97 and cold 1.94 (devpi cold 2.06); earlier
ones the same hour cold 1.37 (twice) and 2.11: pip's own ~1.5 s of CPU dominates and the
box is shared, so the cold ratio moves with the load while warm stays at <= 0.99.
Where the cold ~0.8 s goes (py-spy on the hub): the upstream HTTP client
(requests, ~1.7 ms of CPU per request, 114 requests) ~40%, receiving/hashing/writing the
21 MB ~25%, the fsyncs that keep "never a row without its blob" ~20%; the hub is
store-and-forward (nothing unverified is served), which devpi is not.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench.hub and the test support package live beside wheelhub

from bench.hub import (  # noqa: E402
    Server,
    cpu_seconds,
    devpi_call,
    devpi_server,
    hub_server,
    nginx_server,
    pip_dry_run,
)
from tests.support.pip import make_venv, offline_pip_env  # noqa: E402
from wheelhub.index import urls  # noqa: E402
from wheelhub.index.dists import parse_dist_filename, wheel_metadata  # noqa: E402
from wheelhub.index.names import DEFAULT_LABEL  # noqa: E402
from wheelhub.index.simple import (  # noqa: E402
    METADATA_SUFFIX,
    IndexFile,
    RenderedPage,
    render_index,
    render_project,
)
from wheelhub.server import create_owner  # noqa: E402

BIN = Path(sys.executable).parent
CACHE = Path("/tmp/wheelhub-bench-upstream")
SET = ("requests", "flask", "jinja2", "click", "sphinx", "rich", "pydantic", "pytest")
OWNER = "bench"
PATHS = ("straight", "hub cold", "hub warm", "devpi cold", "devpi warm")

# The upstream answers PEP 691 JSON to clients that ask for it (pip, the hub), HTML otherwise.
NGINX_HTTP = r"""map $http_accept $simple_page {
        default index.html;
        "~application/vnd\.pypi\.simple\.v1\+json" index.json;
    }"""
NGINX_LOCATIONS = """location /simple/ {
            index $simple_page;
            types { application/vnd.pypi.simple.v1+json json; text/html html; }
            add_header Vary Accept;
        }
        location / { }"""


# -- the upstream ---------------------------------------------------------------------------


def client_python(cache: Path) -> Path:
    """A fresh venv's python with the pip that ships with it: downloads and resolves."""
    python = cache / "venv" / "bin" / "python"
    if not python.exists():
        make_venv(cache / "venv")
    return python


def ensure_closure(python: Path, cache: Path, requirements: Sequence[str]) -> list[Path]:
    """The wheels pip picks for *requirements* on PyPI, downloaded once per set and python."""
    key = hashlib.sha256(f"{python.resolve()}|{' '.join(requirements)}".encode()).hexdigest()
    dest = cache / f"closure-{key[:12]}"
    done = dest / "complete"
    if not done.exists():
        print(f"downloading the closure of {' '.join(requirements)} from PyPI into {dest} ...",
              flush=True)
        shutil.rmtree(dest, ignore_errors=True)
        subprocess.run([str(python), "-m", "pip", "download", "--quiet", "--only-binary", ":all:",
                        "--dest", str(dest / "files"), *requirements],
                       check=True, env=offline_pip_env(), timeout=900)
        done.write_text("\n".join(requirements) + "\n")
    return sorted((dest / "files").glob("*.whl"))


def _write_page(directory: Path, page: RenderedPage) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "index.html").write_bytes(page.html)
    (directory / "index.json").write_bytes(page.json)


def build_tree(wheels: Sequence[Path], dest: Path) -> list[str]:
    """*wheels* as a static PEP 503/691 tree with PEP 658 metadata; returns the projects."""
    files_dir = dest / urls.FILES_SEGMENT
    files_dir.mkdir(parents=True)
    projects: dict[str, list[IndexFile]] = {}
    for wheel in wheels:
        dist = parse_dist_filename(wheel.name)
        metadata = wheel_metadata(wheel)
        os.link(wheel, files_dir / wheel.name)
        (files_dir / f"{wheel.name}{METADATA_SUFFIX}").write_bytes(metadata.raw)
        projects.setdefault(dist.project, []).append(IndexFile(
            filename=wheel.name, url=f"../../{urls.FILES_SEGMENT}/{wheel.name}",
            sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(), version=str(dist.version),
            size=wheel.stat().st_size, requires_python=metadata.requires_python,
            metadata_sha256=hashlib.sha256(metadata.raw).hexdigest()))
    simple = dest / urls.SIMPLE_SEGMENT
    _write_page(simple, render_index((name, name) for name in projects))
    for name, files in projects.items():
        _write_page(simple / name, render_project(name, files))
    return sorted(projects)


# -- the proxies ----------------------------------------------------------------------------


def hub_proxy(work: Path, name: str, upstream_url: str) -> Server:
    """A hub on a fresh root whose owner's upstream is *upstream_url*; started."""
    root = work / name
    create_owner(root, OWNER)
    subprocess.run([str(BIN / "wheelhub"), "owner", "upstream", "--root", str(root), OWNER,
                    upstream_url], check=True, capture_output=True, timeout=60)
    server = dataclasses.replace(hub_server(root), name=name)
    server.start(work)
    return server


def devpi_mirror(work: Path, name: str, upstream_url: str) -> Server:
    """devpi-server on a fresh server dir whose root/pypi mirrors *upstream_url*; started."""
    server = dataclasses.replace(devpi_server(work / name, offline=False), name=name,
                                 simple_root="/root/pypi/+simple/")
    server.start(work)
    devpi_call(server, "PUT", "/root/pypi", {"type": "mirror", "mirror_url": upstream_url,
                                             "mirror_web_url_fmt": upstream_url + "{name}/"},
               ("root", "root"))
    return server


# -- the run --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Sample:
    wall: float  # seconds pip took
    server_cpu: float  # CPU seconds the server (nginx, the hub, devpi) used meanwhile


def timed(python: Path, server: Server, index_url: str, requirements: Sequence[str],
          expected: int, label: str) -> Sample:
    assert server.process is not None
    cpu = cpu_seconds(server.process.pid)
    seconds, installs = pip_dry_run(index_url, requirements, python=python)
    sample = Sample(wall=seconds, server_cpu=cpu_seconds(server.process.pid) - cpu)
    if len(installs) != expected:
        raise SystemExit(f"{label}: pip would install {len(installs)} projects, not {expected}: "
                         f"{' '.join(installs)}")
    print(f"  {label:<11} {seconds:6.2f} s  (server CPU {sample.server_cpu:5.2f} s)", flush=True)
    return sample


def one_repeat(work: Path, python: Path, upstream: Server, requirements: Sequence[str],
               expected: int, n: int) -> dict[str, Sample]:
    upstream_url = f"{upstream.base_url}/{urls.SIMPLE_SEGMENT}/"
    out = {"straight": timed(python, upstream, upstream_url, requirements, expected,
                             "straight")}
    proxies: list[tuple[str, Callable[[Path, str, str], Server]]] = [
        ("hub", hub_proxy), ("devpi", devpi_mirror)]
    for kind, start in proxies[::-1] if n % 2 else proxies:  # neither always runs first
        server = start(work, f"{kind}-{n}", upstream_url)
        try:
            index_url = (urls.simple_url(server.base_url, OWNER, DEFAULT_LABEL) if kind == "hub"
                         else f"{server.base_url}{server.simple_root}")
            for phase in ("cold", "warm"):
                out[f"{kind} {phase}"] = timed(python, server, index_url, requirements,
                                               expected, f"{kind} {phase}")
        finally:
            server.stop()
    return out


def report(samples: Sequence[dict[str, Sample]], pip_version: str, projects: int) -> None:
    """The table, and the issue's two ratios on the medians and on the best runs (on a
    shared machine the minimum is the steadier estimate of what a path costs)."""
    walls = {path: [s[path].wall for s in samples] for path in PATHS}
    median = {path: statistics.median(values) for path, values in walls.items()}
    best = {path: min(values) for path, values in walls.items()}
    print(f"\n== pip install --dry-run of {projects} projects ({pip_version}, "
          f"{len(samples)} runs each) ==")
    print(f"{'path':<12}{'median s':>10}{'min s':>8}{'max s':>8}{'median/straight':>17}"
          f"{'server CPU s':>14}")
    for path in PATHS:
        cpu = statistics.median(s[path].server_cpu for s in samples)
        print(f"{path:<12}{median[path]:>10.2f}{best[path]:>8.2f}{max(walls[path]):>8.2f}"
              f"{median[path] / median['straight']:>16.2f}x{cpu:>14.2f}")
    print()
    for name, top, bottom, target in (("hub warm / devpi warm", "hub warm", "devpi warm", 1.0),
                                      ("hub cold / straight", "hub cold", "straight", 1.5)):
        on_median, on_best = median[top] / median[bottom], best[top] / best[bottom]
        verdict = "met" if max(on_median, on_best) <= target else (
            "met on best runs only" if on_best <= target else "MISSED")
        print(f"{name:<22} median {on_median:4.2f}  best {on_best:4.2f}  "
              f"(target <= {target:.2f}: {verdict})")
    print(f"{'devpi cold / straight':<22} median {median['devpi cold'] / median['straight']:4.2f}"
          f"  best {best['devpi cold'] / best['straight']:4.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="samples per figure")
    parser.add_argument("--cache", type=Path, default=CACHE, help="closure and client venv")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("requirements", nargs="*", default=list(SET),
                        help=f"what pip resolves (default: {' '.join(SET)})")
    args = parser.parse_args(argv)
    if not Path("/usr/sbin/nginx").exists():
        raise SystemExit("error: the upstream needs Debian's nginx (scripts/install-system-deps.sh)")
    python = client_python(args.cache)
    wheels = ensure_closure(python, args.cache, args.requirements)
    work = Path(tempfile.mkdtemp(prefix="wheelhub-bench-upstream-"))
    print(f"work directory: {work}", flush=True)
    upstream = nginx_server(work / "upstream", work, name="upstream", http_extra=NGINX_HTTP,
                            locations=NGINX_LOCATIONS)
    try:
        projects = build_tree(wheels, work / "upstream")
        print(f"upstream: {len(wheels)} wheels in {len(projects)} projects", flush=True)
        upstream.start(work)
        pip_version = subprocess.run([str(python), "-m", "pip", "--version"], check=True,
                                     capture_output=True, text=True).stdout.split(" from ")[0]
        samples = []
        for n in range(args.repeat):
            print(f"\n== repeat {n + 1}/{args.repeat} ==", flush=True)
            samples.append(one_repeat(work, python, upstream, args.requirements,
                                      len(projects), n))
        report(samples, pip_version, len(projects))
        return 0
    finally:
        upstream.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
