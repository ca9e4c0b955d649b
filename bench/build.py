"""Benchmark: wheelhub build (cold, warm, one pin changed) against the seed approach.

The seed: one ``docker run`` per Python prefix doing ``pip install -r
requirements-build.txt; pip wheel -r requirements.txt; auditwheel repair``, no cache.
Both run in the same process on the same fixture set (tests/fixtures/packages) and
image; ratios are printed against the targets:

    cold <= 0.5 x seed, warm <= 0.05 x cold, one change <= 1.3 x that package's own build

"That package's own build" is ``wheelhub build`` of a requirements file holding only the
changed pin, into a fresh wheelhouse with a copy of the cache as it was before the pin
change (the same prepared snapshot; pip's wheel cache without the new wheel):
what building that package by itself costs, so the ratio shows what else a pin change
rebuilds or waits for. The build step alone (the longest rebuilt entry's duration, no
CLI, container start or hand-back) is printed beside it.

Each build frontend (``--frontends``, default auto, pip, build and build[uv]) is measured
in the same run against the same seed, in its own cache directory; ``--repeat N`` runs N
rounds and prints the median of each round's ratios (this machine's proxy and disk drift
by tens of percent between runs).

The cold run's report.json ``phases`` are printed too: seconds per phase summed over
prefixes and entries (image start, CA, hook, build requirements, snapshot, pip wheel =
download + isolated env + compile, repair), and the floor: the CPU seconds the build
steps used (each container's cgroup) divided by the cores, so the gap to the limit shows.
Extra arguments after ``--`` go to every wheelhub build (``-- --jobs 4``).

Usage: .venv/bin/python bench/build.py [--image IMAGE] [--python cp311,cp312]
       [--frontends auto,pip] [--repeat N] [-- ARGS]
Needs Docker and the local images (scripts/build-test-images.sh).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import make_sdist  # noqa: E402

CA = "/etc/ssl/certs/ca-certificates.crt"
HOOK = """\
if ! [ -f /usr/include/yaml.h ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libyaml-dev >/dev/null
fi
export WHFIX_HOOK_FLAG=bench
"""
PACKAGES = ("whfix-clib", "whfix-optional", "whfix-pure", "whfix-dependent")


def make_project(base: Path) -> Path:
    project = base / "project"
    (project / "dists").mkdir(parents=True)
    for name in PACKAGES:
        make_sdist(name, project / "dists")
    make_sdist("whfix-pure", project / "dists", version="1.1")
    (project / "requirements.txt").write_text(
        "--find-links ./dists\n" + "".join(f"{name}==1.0\n" for name in PACKAGES))
    (project / "requirements-build.txt").write_text("setuptools>=68\n")
    # Unique per run, so "cold" is cold: no prepared snapshot from an earlier run matches.
    (project / "build-setup.sh").write_text(HOOK + f"# bench {uuid.uuid4().hex}\n")
    return project


def seed(project: Path, image: str, pythons: list[str]) -> float:
    started = time.monotonic()
    for tag in pythons:
        py = f"/opt/python/{tag}-{tag}/bin/python"
        script = (f"set -e; cd /project; . ./build-setup.sh; export PIP_CERT=/ca.crt; "
                  f"{py} -m pip install -q -r requirements-build.txt; "
                  f"{py} -m pip wheel -q -r requirements.txt -w /tmp/w; "
                  "for w in /tmp/w/*linux_x86_64.whl; do auditwheel repair -w /out $w; done")
        subprocess.run(["docker", "run", "--rm", "--network", "host", "-v", f"{project}:/project",
                        "-v", f"{CA}:/ca.crt:ro", image, "bash", "-c", script],
                       check=True, capture_output=True)
    return time.monotonic() - started


def wheelhub(project: Path, image: str, pythons: list[str], cache: Path,
             extra: Sequence[str] = ()) -> tuple[float, dict[str, object]]:
    started = time.monotonic()
    subprocess.run([str(ROOT / ".venv/bin/wheelhub"), "build", "--image", image, "--network", "host",
                    "--ca-bundle", CA, "--python", ",".join(pythons), "--cache-dir", str(cache),
                    *extra],
                   cwd=project, check=True, capture_output=True)
    elapsed = time.monotonic() - started
    wheelhouse = extra[extra.index("-w") + 1] if "-w" in extra else "wheelhouse"
    return elapsed, json.loads((project / wheelhouse / "report.json").read_text())


@dataclass(frozen=True, kw_only=True, slots=True)
class Round:
    """One frontend's cold, warm and one-pin-changed runs."""

    frontend: str
    cold: float
    cold_report: dict[str, object]
    warm: float
    changed: float
    alone: float  # wheelhub build of only the changed pin, same cache: its own build
    step: float  # the longest rebuilt entry after the pin change: its build step alone
    rebuilt: list[str]


def measure(frontend: str, base: Path, image: str, pythons: list[str],
            extra: Sequence[str]) -> Round:
    project = make_project(base / frontend)
    cache = base / f"cache-{frontend}"
    args = ["--frontend", frontend, *extra]
    cold, cold_report = wheelhub(project, image, pythons, cache, args)
    warm, _ = wheelhub(project, image, pythons, cache, args)
    requirements = project / "requirements.txt"
    requirements.write_text(requirements.read_text().replace("whfix-pure==1.0", "whfix-pure==1.1"))
    # "Alone" starts as warm as the pin change does: from a copy of this cache (pip keeps the
    # wheels it builds, so the second of the two runs would find the package built).
    alone_cache = base / f"cache-{frontend}-alone"
    shutil.copytree(cache, alone_cache, symlinks=True)
    changed, changed_report = wheelhub(project, image, pythons, cache, args)
    entries = changed_report["entries"]
    assert isinstance(entries, list)
    rebuilt = [e for e in entries if e["status"] == "built"]
    (project / "alone.txt").write_text("--find-links ./dists\nwhfix-pure==1.1\n")
    alone, _ = wheelhub(project, image, pythons, alone_cache,
                        [*args, "-r", "alone.txt", "-w", "alone"])
    return Round(frontend=frontend, cold=cold, cold_report=cold_report, warm=warm,
                 changed=changed, alone=alone,
                 step=max((e["duration"] for e in rebuilt), default=0.0) or 1e-9,
                 rebuilt=sorted({e["project"] for e in rebuilt}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default="wheelhub-local/builder:bookworm")
    parser.add_argument("--python", default="cp311,cp312")
    parser.add_argument("--frontends", default="auto,pip,build,build[uv]",
                        help="the build frontends to measure, each against the same seed run")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds (seed, then every frontend); ratios are each round's, and "
                        "their median is printed: the machine's network and disk drift")
    parser.add_argument("extra", nargs="*", help="arguments for every wheelhub build")
    args = parser.parse_args()
    extra: list[str] = args.extra
    pythons = args.python.split(",")
    frontends = args.frontends.split(",")
    seeds: list[float] = []
    rounds: dict[str, list[Round]] = {f: [] for f in frontends}
    for repeat in range(max(1, args.repeat)):
        base = Path(tempfile.mkdtemp(prefix="wheelhub-bench-"))
        try:
            seeds.append(seed(make_project(base / "seed"), args.image, pythons))
            for frontend in frontends:
                rounds[frontend].append(measure(frontend, base, args.image, pythons, extra))
        finally:
            shutil.rmtree(base, ignore_errors=True)
        if args.repeat > 1:
            print(f"round {repeat + 1}: seed {seeds[-1]:.1f}s, " + ", ".join(
                f"{f} {rounds[f][-1].cold / seeds[-1]:.2f}x" for f in frontends), flush=True)
    print(f"{'seed (docker run per prefix, no cache)':46} {median(seeds):7.1f}s"
          + (f"  (median of {len(seeds)})" if len(seeds) > 1 else ""))
    for frontend in frontends:
        done = rounds[frontend]
        cold = median([r.cold for r in done])
        for name, seconds, ratio, target in (
                (f"cold, --frontend {frontend}", cold,
                 f"{median([r.cold / s for r, s in zip(done, seeds, strict=True)]):.2f}x seed",
                 "target <= 0.50x"),
                ("  warm (nothing changed)", median([r.warm for r in done]),
                 f"{median([r.warm / r.cold for r in done]):.3f}x cold", "target <= 0.05x"),
                ("  one pin changed", median([r.changed for r in done]),
                 f"{median([r.changed / r.alone for r in done]):.2f}x own build "
                 f"({median([r.alone for r in done]):.1f}s)", "target <= 1.30x")):
            print(f"{name:46} {seconds:7.1f}s  {ratio:28} {target}")
        print(f"  own build = wheelhub build of whfix-pure==1.1 alone, as warm; its build "
              f"step alone took {median([r.step for r in done]):.1f}s, the pin change "
              f"{median([r.changed / r.step for r in done]):.2f}x that")
        print(f"  rebuilt after the pin change: {done[-1].rebuilt}")
    for frontend in frontends:
        last = rounds[frontend][-1]
        print_phases(last.cold_report, last.cold, frontend)
    return 0


def print_phases(report: dict[str, object], wall: float, frontend: str) -> None:
    """Where the cold run's time went (summed over prefixes and entries), and the floor."""
    phases = report.get("phases")
    if not isinstance(phases, dict) or not phases.get("totals"):
        return
    print(f"cold with --frontend {frontend}, per phase (seconds summed over prefixes/entries, "
          "which overlap):")
    for name, seconds in sorted(phases["totals"].items(), key=lambda item: -item[1]):
        print(f"  {name:24} {seconds:7.1f}s")
    floor = phases["floor_seconds"]
    print(f"floor: {sum(phases['cpu_seconds'].values()):.1f} CPU s of build steps / "
          f"{phases['cores']} cores = {floor:.1f}s; cold is {wall - floor:.1f}s above it")


if __name__ == "__main__":
    sys.exit(main())
