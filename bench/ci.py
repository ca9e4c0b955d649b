"""Benchmark: a CI runner that starts warm and a plan spread over two runners.

One run, one hub (``wheelhub serve`` on loopback), the fixture set (tests/fixtures/packages:
whfix-clib compiled against libyaml, whfix-optional, whfix-pure, whfix-dependent) × the
Pythons given. Printed as ratios against the targets of issue 9:

    fresh machine with the hub as cache      <= 0.1 x cold
    one pin changed on a fresh machine       <= 1.3 x that package's own build
    2 shards one after the other: the longer <= 0.6 x the unsharded cold build

"That package's own build" is what building it alone costs a fresh machine: ``wheelhub
build`` of a requirements file holding only the changed pin, on another fresh machine (no
cache, no prepared snapshot), so the ratio shows what else the pin change builds or waits
for. The affected entries' build steps on machine A are printed beside it.

Smaller than the issue's ">= 6 compiled packages": the fixture set has one compiled
package (no registry beyond PyPI is reachable here, and the fixtures build offline).
Each "machine" is a fresh wheelhouse and cache dir with the prepared snapshots removed.

Usage: .venv/bin/python bench/ci.py [--image IMAGE] [--python cp311,cp312]
Needs Docker and the local images (scripts/build-test-images.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.build import make_project  # noqa: E402
from tests.support.hub import running_hub  # noqa: E402
from tests.support.images import remove_prepared_since  # noqa: E402
from wheelhub.server import create_token  # noqa: E402

WHEELHUB = str(Path(sys.executable).with_name("wheelhub"))
CA = "/etc/ssl/certs/ca-certificates.crt"


def run(project: Path, machine: str, token: str, *args: str) -> float:
    started = time.monotonic()
    argv = [WHEELHUB, *args, "-w", f"wh-{machine}", "--cache-dir", str(project / f"c-{machine}"),
            *COMMON]
    done = subprocess.run(argv, cwd=project, capture_output=True, text=True, check=False,
                          env={**os.environ, "WHEELHUB_TOKEN": token})
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return time.monotonic() - started


def durations(project: Path, machine: str) -> dict[str, float]:
    data = json.loads((project / f"wh-{machine}" / "wheelhub-manifest.json").read_text())
    found: dict[str, float] = {}
    for entry in data["entries"]:
        found[entry["project"]] = found.get(entry["project"], 0.0) + entry["duration"]
    return found


COMMON: list[str] = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image", default="wheelhub-local/builder:bookworm")
    parser.add_argument("--python", default="cp311,cp312")
    args = parser.parse_args()
    COMMON.extend(["--image", args.image, "--python", args.python, "--network", "host",
                   "--ca-bundle", CA])
    import docker

    client = docker.from_env()
    started = time.time()
    base = Path(tempfile.mkdtemp(prefix="wheelhub-bench-ci-"))
    try:
        project = make_project(base)
        with running_hub(base / "hub") as hub:
            token = create_token(hub.root, owner="bench", scope="upload")
            to = f"{hub.base_url}/bench"
            cold = run(project, "a", token, "build")
            run_publish = [WHEELHUB, "publish", "-w", "wh-a", "--to", to, "--label", "main",
                           "--allow-untested"]
            subprocess.run(run_publish, cwd=project, check=True, capture_output=True,
                           env={**os.environ, "WHEELHUB_TOKEN": token})
            remove_prepared_since(client, started)
            fresh = run(project, "b", token, "build", "--cache-from", to)
            remove_prepared_since(client, started)
            requirements = (project / "requirements.txt").read_text()
            (project / "requirements-pin.txt").write_text(
                requirements.replace("whfix-pure==1.0", "whfix-pure==1.1"))
            pinned = run(project, "c", token, "build", "--cache-from", to,
                         "-r", "requirements-pin.txt")
            own = durations(project, "a")
            affected = own["whfix-pure"] + own["whfix-dependent"]
            remove_prepared_since(client, started)
            (project / "requirements-alone.txt").write_text(
                "--find-links ./dists\nwhfix-pure==1.1\n")
            alone = run(project, "d", token, "build", "-r", "requirements-alone.txt")
            remove_prepared_since(client, started)
            # the plan job knows closures and durations from the hub; the shards build cold
            plan = subprocess.run([WHEELHUB, "plan", "--shards", "2", "--matrix", "github",
                                   "--cache-from", to, "-w", "wh-plan", *COMMON], cwd=project,
                                  capture_output=True, text=True, check=True,
                                  env={**os.environ, "WHEELHUB_TOKEN": token})
            specs = [job["shard"] for job in json.loads(plan.stdout)["include"]]
            shard_times = []
            for index, spec in enumerate(specs, start=1):
                shard_times.append(run(project, f"s{index}", token, "build", "--shard", spec))
                remove_prepared_since(client, started)
    finally:
        remove_prepared_since(client, started)
        shutil.rmtree(base, ignore_errors=True)
    print(f"cold build (machine A):                  {cold:7.1f} s")
    print(f"fresh machine, hub as cache:             {fresh:7.1f} s  = {fresh / cold:.2f} x cold"
          "  (target <= 0.1)")
    print(f"one pin changed, fresh machine:          {pinned:7.1f} s  = "
          f"{pinned / alone:.2f} x that package's own build on a fresh machine "
          f"({alone:.1f} s)  (target <= 1.3)")
    print(f"  (= {pinned / affected:.2f} x the build steps of the entries holding the pin on "
          f"machine A, {affected:.1f} s)")
    print(f"2 shards one after the other ({' | '.join(specs)}): "
          f"{shard_times[0]:.1f} s + {shard_times[1]:.1f} s; the longer = "
          f"{max(shard_times) / cold:.2f} x cold  (target <= 0.6)")


if __name__ == "__main__":
    main()
