"""pip (and uv) for tests: only the index on the command line, no config, no cache."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def offline_pip_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for pip/uv subprocesses that must only see the index given on the command
    line: no pip.conf, no find-links, no extra index, no cache, not our own venv."""
    env = {key: value for key, value in (os.environ if base is None else base).items()
           if not key.startswith(("PIP_", "UV_")) and key not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env.update({"PIP_CONFIG_FILE": "/dev/null", "PIP_NO_CACHE_DIR": "1",
                "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1",
                "UV_NO_CACHE": "1", "UV_NO_CONFIG": "1", "UV_OFFLINE": "0"})
    return env


def make_venv(root: Path) -> Path:
    """A fresh venv with its own pip and nothing else; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, env=offline_pip_env())
    return root / "bin" / "python"


def pip_install(python: Path, index_url: str, target: Path, *requirements: str,
                deps: bool = False, extra: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """*python*'s pip installs from *index_url* only into *target* (``--no-deps`` unless
    *deps*)."""
    return subprocess.run(
        [str(python), "-m", "pip", "install", "--no-cache-dir", "--index-url", index_url,
         "--target", str(target), *([] if deps else ["--no-deps"]), *extra, *requirements],
        capture_output=True, text=True, env=offline_pip_env(), check=False, timeout=120)


def installed_version(python: Path, target: Path, module: str) -> str:
    """``module.__version__`` as *python* imports it from *target* alone."""
    proc = subprocess.run([str(python), "-c", f"import {module}; print({module}.__version__)"],
                          capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(target)})
    return proc.stdout.strip()
