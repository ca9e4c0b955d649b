"""A CI runner that starts warm: machine A builds, tests and publishes to a real hub; "machine
B" (a fresh wheelhouse, a fresh cache dir, no prepared snapshot) downloads instead of
building; a changed pin, a corrupted blob and a stopped hub; three shards and their merge.
Real Docker, a real hub, cp311 only."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BUILDER_IMAGE, LIBYAML_HOOK, RUNTIME_IMAGE, make_sdist
from tests.support.hub import HubProcess, running_hub
from tests.support.images import remove_prepared_since
from wheelhub.server import create_token

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WHEELHUB = str(Path(sys.executable).with_name("wheelhub"))
HOOK = LIBYAML_HOOK
REQUIREMENTS = "--find-links ./dists\nwhfix-clib==1.0\nwhfix-pure==1.0\nwhfix-dependent==1.0\n"
COMMON = ("--image", BUILDER_IMAGE, "--python", "cp311", "--network", "host",
          "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "--runtime-image", RUNTIME_IMAGE)


@dataclass
class Setup:
    project: Path
    hub: HubProcess
    token: str
    started: float

    @property
    def owner_url(self) -> str:
        return f"{self.hub.base_url}/acme"

    def run(self, *args: str, machine: str,
            token: str | None = None) -> subprocess.CompletedProcess[str]:
        """wheelhub on a "machine": its own wheelhouse and cache dir."""
        env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
               "LANG": "C.UTF-8", "WHEELHUB_TOKEN": token or self.token}
        argv = [WHEELHUB, *args, "-w", f"wh-{machine}"]
        if args[0] != "publish":
            argv += [*COMMON, "--cache-dir", str(self.project / f"cache-{machine}")]
        return subprocess.run(argv, cwd=self.project, env=env, capture_output=True, text=True,
                              timeout=900, check=False)

    def entries(self, machine: str) -> dict[str, dict[str, Any]]:
        data = json.loads((self.project / f"wh-{machine}" / "report.json").read_text())
        return {e["project"]: e for e in data["entries"]}

    def hashes(self, machine: str) -> set[str]:
        return {hashlib.sha256(p.read_bytes()).hexdigest()
                for p in (self.project / f"wh-{machine}").glob("*.whl")}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[Setup]:
    started = time.time()
    base = Path(tmp_path_factory.mktemp("remote-cache"))
    project = base / "project"
    (project / "dists").mkdir(parents=True)
    for name in ("whfix-clib", "whfix-pure", "whfix-dependent"):
        make_sdist(name, project / "dists")
    make_sdist("whfix-pure", project / "dists", version="1.1")
    (project / "requirements.txt").write_text(REQUIREMENTS)
    (project / "build-setup.sh").write_text(HOOK + f"# run {uuid.uuid4().hex}\n")
    with running_hub(base / "hub") as hub:
        token = create_token(hub.root, owner="acme", scope="upload")
        yield Setup(project=project, hub=hub, token=token, started=started)
    remove_prepared_since(docker_client, started)


@pytest.fixture(scope="module")
def machine_a(setup: Setup) -> subprocess.CompletedProcess[str]:
    done = setup.run("ci", "--to", setup.owner_url, "--label", "feature-x", machine="a")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cache records: 3 stored, 0 refused" in done.stderr
    return done


@pytest.fixture(scope="module")
def machine_b(setup: Setup, machine_a: subprocess.CompletedProcess[str],
              docker_client: Any) -> subprocess.CompletedProcess[str]:
    remove_prepared_since(docker_client, setup.started)  # a fresh machine has no snapshot
    return setup.run("build", "--cache-from", setup.owner_url, machine="b")


def test_a_fresh_machine_downloads_instead_of_building(
        setup: Setup, machine_b: subprocess.CompletedProcess[str], docker_client: Any) -> None:
    assert machine_b.returncode == 0, machine_b.stderr
    assert "0 container(s)" in machine_b.stdout
    assert f"3 cached (3 remote, from {setup.owner_url})" in machine_b.stdout
    assert setup.hashes("b") == setup.hashes("a")
    entries = setup.entries("b")
    assert {e["origin"] for e in entries.values()} == {setup.owner_url}
    assert json.loads((setup.project / "wh-b" / "report.json").read_text())["how"] == {
        f"{p} cp311": f"cached (remote, from {setup.owner_url})" for p in entries}
    output = docker_client.containers.run(
        RUNTIME_IMAGE, ["bash", "-c", "set -e; py=/opt/python/cp311-cp311/bin/python; "
                        "$py -m venv /tmp/v; /tmp/v/bin/pip install -q --no-index "
                        "--find-links /wh whfix-clib whfix-dependent; "
                        "/tmp/v/bin/python -c 'import whfix_clib, whfix_dependent; "
                        "print(whfix_dependent.welcome())'"],
        remove=True, network_mode="none",
        volumes={str(setup.project / "wh-b"): {"bind": "/wh", "mode": "ro"}})
    assert "HELLO DEPENDENT" in output.decode()


def test_a_restored_verdict_holds_for_the_same_runtime_image(
        setup: Setup, machine_b: subprocess.CompletedProcess[str]) -> None:
    tested = setup.run("test", machine="b")
    assert tested.returncode == 0, tested.stderr
    assert "testing" not in tested.stderr  # no container: every verdict still holds
    assert {e["test"]["status"] for e in setup.entries("b").values()} == {"passed"}


def test_one_pin_changed_builds_only_the_entries_holding_it(
        setup: Setup, machine_a: subprocess.CompletedProcess[str]) -> None:
    changed = setup.project / "requirements-changed.txt"
    changed.write_text(REQUIREMENTS.replace("whfix-pure==1.0", "whfix-pure==1.1"))
    done = setup.run("build", "--cache-from", setup.owner_url, "-r", changed.name, machine="c")
    assert done.returncode == 0, done.stderr
    how = {p: (e["status"], bool(e["origin"])) for p, e in setup.entries("c").items()}
    assert how == {"whfix-clib": ("cached", True), "whfix-pure": ("built", False),
                   "whfix-dependent": ("built", False)}
    # whfix-dependent's own inputs did not change: its wheel comes from machine A's record,
    # byte for byte, and only its closure is made again, around the new whfix-pure.
    dependent = setup.entries("c")["whfix-dependent"]
    assert dependent["relinked"] is True
    assert "its own wheel from the cache" in done.stderr
    own = "whfix_dependent-1.0-py3-none-any.whl"
    assert (setup.project / "wh-c" / own).read_bytes() == (setup.project / "wh-a" / own
                                                           ).read_bytes()
    assert sorted(w["filename"] for w in dependent["wheels"]) == [
        own, "whfix_pure-1.1-py3-none-any.whl"]


def test_a_corrupted_blob_is_rebuilt_with_a_warning(
        setup: Setup, machine_a: subprocess.CompletedProcess[str]) -> None:
    clib = next(e for e in setup.entries("a")["whfix-clib"]["wheels"]
                if e["project"] == "whfix-clib")
    blob = setup.hub.root / "blobs" / clib["sha256"][:2] / clib["sha256"]
    original = blob.read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    try:
        done = setup.run("build", "--cache-from", setup.owner_url, machine="d")
    finally:
        blob.write_bytes(original)
    assert done.returncode == 0, done.stderr
    assert "does not match its recorded sha256; building it" in done.stderr
    entries = setup.entries("d")
    assert entries["whfix-clib"]["status"] == "built"
    assert entries["whfix-pure"]["origin"] == setup.owner_url
    wheel = next(w for w in entries["whfix-clib"]["wheels"] if w["project"] == "whfix-clib")
    assert hashlib.sha256((setup.project / "wh-d" / wheel["filename"]).read_bytes()
                          ).hexdigest() == wheel["sha256"]


def test_three_shards_build_each_entry_once_and_merge(
        setup: Setup, machine_a: subprocess.CompletedProcess[str]) -> None:
    planned = setup.run("plan", "--shards", "3", "--matrix", "github", "--cache-from",
                        setup.owner_url, machine="plan")
    assert planned.returncode == 0, planned.stderr
    specs = [job["shard"] for job in json.loads(planned.stdout)["include"]]
    assert len(specs) == 3
    assert any("whfix-dependent" in s and "whfix-pure" in s for s in specs)
    # Another owner: acme already holds these releases, and a rebuild is other bytes (409).
    owner_url = f"{setup.hub.base_url}/sharded"
    token = create_token(setup.hub.root, owner="sharded", scope="upload")
    built: list[str] = []
    for index, spec in enumerate(specs, start=1):
        done = setup.run("ci", "--to", owner_url, "--label", "shards", "--shard", spec,
                         machine=f"shard{index}", token=token)
        assert done.returncode == 0, done.stdout + done.stderr
        if (setup.project / f"wh-shard{index}" / "report.json").exists():
            built += [p for p, e in setup.entries(f"shard{index}").items()
                      if e["status"] == "built"]
    assert sorted(built) == ["whfix-clib", "whfix-dependent", "whfix-pure"]  # each once
    merged = setup.run("ci", "--to", owner_url, "--label", "shards", "--merge",
                       machine="merge", token=token)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "3 entries gathered" in merged.stdout + merged.stderr
    # one shard's publish left out: the merge fails and names what is missing
    published = [i for i in (1, 2, 3) if (setup.project / f"wh-shard{i}" / "wheelhub-manifest.json")
                 .exists() and setup.entries(f"shard{i}")]
    for index in published[1:]:
        done = setup.run("publish", "--to", owner_url, "--label", "partial",
                         machine=f"shard{index}", token=token)
        assert done.returncode == 0, done.stderr
    partial = setup.run("ci", "--to", owner_url, "--label", "partial", "--merge",
                        machine="merge2", token=token)
    assert partial.returncode == 1
    assert "missing: no shard published it to label 'partial'" in partial.stdout + partial.stderr


def test_a_stopped_hub_means_a_normal_build(setup: Setup) -> None:
    # last: the hub's address with nothing listening
    dead = "http://127.0.0.1:9/acme"
    done = setup.run("build", "--cache-from", dead, machine="e")
    assert done.returncode == 0, done.stderr
    assert "unreachable" in done.stderr and "building without it" in done.stderr
    assert {e["status"] for e in setup.entries("e").values()} == {"built"}
