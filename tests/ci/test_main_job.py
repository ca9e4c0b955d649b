"""The README's main-job command, end to end, on the example set: build, test, publish
to the branch's label on the embedded hub, then pip install from it in a clean venv."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.pip import offline_pip_env
from tests.support.processes import free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_main_job_publishes_an_installable_label(tmp_path: Path) -> None:
    hub_root = tmp_path / "hub"
    port = free_port()
    env = {**os.environ, "MAIN_JOB_HUB_PORT": str(port), "MAIN_JOB_HUB_ROOT": str(hub_root),
           "MAIN_JOB_OWNER": "e2e", "WHEELHUB_WHEELHOUSE": str(tmp_path / "wheelhouse")}
    for variable in ("GITHUB_ACTIONS", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "TRAVIS",
                     "TRAVIS_BRANCH", "CI_COMMIT_REF_NAME", "WHEELHUB_TOKEN"):
        env.pop(variable, None)
    try:
        job = subprocess.run(["bash", str(ROOT / "scripts/main-job.sh")], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=1500, check=False)
        assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-5000:]
        # The owner has PyPI as its upstream: one URL, no --extra-index-url.
        match = re.search(r"pip install --index-url (\S+) PyYAML", job.stdout)
        assert match, job.stdout[-2000:]
        index = match.group(1)
        assert index.startswith(f"http://127.0.0.1:{port}/e2e/label/")
        assert "0 failed" in job.stdout
        # The printed line works: a clean venv, only our hub as index.
        venv = tmp_path / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin/pip"), "install", "-q", "--no-cache-dir", "--index-url", index,
                        "PyYAML==6.0.2", "MarkupSafe==3.0.2"],
                       check=True, env=offline_pip_env(), timeout=300)
        out = subprocess.run([str(venv / "bin/python"), "-c",
                              "import yaml, markupsafe; print(yaml.__with_libyaml__, yaml.__file__)"],
                             check=True, capture_output=True, text=True)
        assert out.stdout.startswith("True ")
        # A project the owner never published resolves through the same URL (from PyPI).
        proxied = subprocess.run([str(venv / "bin/pip"), "download", "-q", "--no-deps", "--no-cache-dir",
                                  "--index-url", index, "-d", str(tmp_path / "proxied"), "idna==3.10"],
                                 env=offline_pip_env(), capture_output=True, text=True, timeout=300,
                                 check=False)
        assert proxied.returncode == 0, proxied.stderr[-2000:]
        assert [p.name for p in (tmp_path / "proxied").iterdir()] == ["idna-3.10-py3-none-any.whl"]
        assert "manylinux" in "".join(p.name for p in (tmp_path / "wheelhouse").glob("pyyaml-*.whl"))
    finally:
        pid_file = hub_root / "serve.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        shutil.rmtree(hub_root, ignore_errors=True)
