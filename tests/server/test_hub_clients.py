"""Real clients against the real server: twine uploads, pip and uv installs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.dists import make_sdist, make_wheel
from tests.support.hub import HubProcess, http
from tests.support.pip import installed_version, pip_install
from wheelhub.server import create_token

BIN = Path(sys.executable).parent


def run(*args: str | Path, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env,
                            timeout=120, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed:\n{result.stdout}\n{result.stderr}")
    return result


def twine(hub: HubProcess, owner: str, label: str, token: str, *files: Path,
          check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(BIN / "twine", "upload", "--non-interactive", "--disable-progress-bar",
               "--repository-url", hub.upload_url(owner, label), "-u", "__token__", "-p", token,
               *files, check=check)


def new_requests(hub: HubProcess, since: int) -> list[str]:
    """Request lines the hub's access log got after byte offset *since*."""
    return [line for line in hub.log_path.read_text()[since:].splitlines()
            if line.startswith(("GET ", "HEAD ", "POST "))]


@pytest.fixture
def published(hub: HubProcess, owner: str, dist_dir: Path) -> tuple[str, str]:
    """app 1.0 (needs lib) and lib 1.0/2.0 (wheel + sdist) on label feature-x; returns token."""
    token = create_token(hub.root, owner=owner, scope="upload", label_glob="feature-*",
                         expires="90d")
    files = [make_wheel(dist_dir, "demo-app", "1.0", requires=["demo-lib>=2"]),
             make_wheel(dist_dir, "demo-lib", "1.0"),
             make_wheel(dist_dir, "demo-lib", "2.0", requires_python=">=3.8"),
             make_wheel(dist_dir, "demo-lib", "3.0", requires_python=">=4"),
             make_sdist(dist_dir, "demo-lib", "2.0")]
    twine(hub, owner, "feature-x", token, *files)
    return token, "feature-x"


def test_twine_upload_reports_and_reupload_is_ok(hub: HubProcess, owner: str,
                                                 published: tuple[str, str],
                                                 dist_dir: Path) -> None:
    token, label = published
    listing = http(hub.index_url(owner, label)).text
    assert 'href="demo-app/"' in listing and 'href="demo-lib/"' in listing
    # twine re-uploading identical files succeeds (no-op on the server).
    again = twine(hub, owner, label, token, *sorted(dist_dir.iterdir()))
    assert "error" not in again.stderr.lower()
    # A token limited to feature-* cannot publish to main: twine reports 403.
    denied = twine(hub, owner, "main", token, *sorted(dist_dir.iterdir())[:1], check=False)
    assert denied.returncode != 0 and "403" in denied.stdout + denied.stderr


def test_pip_resolves_with_metadata_only(hub: HubProcess, owner: str, published: tuple[str, str],
                                         pip_env: dict[str, str]) -> None:
    _token, label = published
    mark = len(hub.log_path.read_text())
    result = run(sys.executable, "-m", "pip", "install", "--dry-run", "--no-cache-dir",
                 "--report", "-", "--quiet", "--index-url", hub.index_url(owner, label),
                 "demo-app", env=pip_env)
    assert '"name": "demo-lib"' in result.stdout and '"version": "2.0"' in result.stdout
    requests = new_requests(hub, mark)
    assert any(r.startswith("GET ") and ".whl.metadata 200" in r for r in requests), requests
    assert not any(".whl " in r for r in requests), "pip downloaded a wheel to resolve"


def test_pip_installs(hub: HubProcess, owner: str, published: tuple[str, str],
                      tmp_path: Path) -> None:
    _token, label = published
    target = tmp_path / "target"
    python = Path(sys.executable)
    installed = pip_install(python, hub.index_url(owner, label), target, "demo-app", deps=True)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert installed_version(python, target, "demo_lib") == "2.0"
    assert installed_version(python, target, "demo_app") == "1.0"


def test_uv_resolves_with_metadata_and_installs(hub: HubProcess, owner: str,
                                                published: tuple[str, str],
                                                pip_env: dict[str, str], tmp_path: Path) -> None:
    _token, label = published
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    mark = len(hub.log_path.read_text())
    dry = run(BIN / "uv", "pip", "install", "--dry-run", "--python", venv / "bin" / "python",
              "--index-url", hub.index_url(owner, label), "demo-app", env=pip_env)
    assert "demo-lib==2.0" in dry.stderr
    requests = new_requests(hub, mark)
    assert any(".whl.metadata 200" in r for r in requests), requests
    assert not any(".whl " in r for r in requests), "uv downloaded a wheel to resolve"
    run(BIN / "uv", "pip", "install", "--python", venv / "bin" / "python",
        "--index-url", hub.index_url(owner, label), "demo-app", env=pip_env)
    site = next((venv / "lib").glob("python*/site-packages"))
    assert (site / "demo_lib" / "__init__.py").read_text().startswith("__version__ = '2.0'")


def test_private_label_with_token_in_url_and_basic_auth(
        hub: HubProcess, owner: str, published: tuple[str, str], pip_env: dict[str, str],
        tmp_path: Path) -> None:
    token, label = published
    run(BIN / "wheelhub", "label", "visibility", "--root", hub.root, "--owner", owner, label,
        "private")
    index = hub.index_url(owner, label)
    refused = run(sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
                  "-d", tmp_path / "none", "--index-url", index, "demo-lib", env=pip_env,
                  check=False)
    assert refused.returncode != 0
    reader = create_token(hub.root, owner=owner, scope="read", label_glob=label)
    run(sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
        "-d", tmp_path / "t", "--index-url", hub.index_url(owner, label, token=reader),
        "demo-lib", env=pip_env)
    assert [p.name for p in (tmp_path / "t").iterdir()] == ["demo_lib-2.0-py3-none-any.whl"]
    with_auth = index.replace("http://", f"http://__token__:{token}@")
    run(BIN / "uv", "pip", "install", "--dry-run", "--python", sys.executable,
        "--index-url", with_auth, "demo-lib", env=pip_env)
    assert token not in hub.log_text() and reader not in hub.log_text()
