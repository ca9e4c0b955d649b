"""Whose container is it: the labels every container carries, and when its run is gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from wheelhub.engines.oci import run_is_gone, this_run
from wheelhub.engines.spec import ContainerSpec


def labels_of_a_finished_process() -> dict[str, str]:
    script = "import json; from wheelhub.engines.oci import this_run; print(json.dumps(this_run()))"
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True).stdout
    labels: dict[str, str] = json.loads(output)
    return labels


def test_a_live_run_is_not_gone() -> None:
    owner = this_run()
    assert owner["org.wheelhub.pid"] == str(os.getpid())
    assert owner["org.wheelhub.run"] and owner["org.wheelhub.pid-started"]
    assert not run_is_gone(owner)


def test_a_finished_or_killed_run_is_gone() -> None:
    labels = labels_of_a_finished_process()
    assert labels["org.wheelhub.run"] != this_run()["org.wheelhub.run"]
    assert run_is_gone(labels)


def test_a_reused_pid_does_not_keep_a_dead_run_alive() -> None:
    reused = {**this_run(), "org.wheelhub.pid-started": "1"}  # our pid, another start time
    assert run_is_gone(reused)


def test_kept_containers_and_other_hosts_are_never_reaped() -> None:
    labels = labels_of_a_finished_process()
    assert not run_is_gone({**labels, "org.wheelhub.keep": "1"})
    assert not run_is_gone({**labels, "org.wheelhub.host": "elsewhere pid:[1]"})
    assert not run_is_gone({})  # not labelled by a run at all


def test_every_container_carries_its_run_kind_and_keep(tmp_path: Path) -> None:
    spec = ContainerSpec(image="i", name="cp311", labels={"x": "y"}, kind="shell",
                         workdir="/w", keep=True, memory=256 * 1024**2)
    args = spec.create_args("wheelhub-cp311-0", this_run())
    assert args["labels"] == {"x": "y", **this_run(), "org.wheelhub.kind": "shell",
                              "org.wheelhub.keep": "1"}
    assert args["mem_limit"] == args["memswap_limit"] == 256 * 1024**2
