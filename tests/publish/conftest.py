"""Fixtures for publish tests: real wheels, wheelhouses with manifests, servers, clean venvs."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from wheelhub.manifest import Entry, Manifest, TestRecord, WheelRecord

VENV_BIN = Path(sys.executable).parent
TOKEN = "whk_testtoken_0123456789abcdef"


# --- the CLI ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    @property
    def last_line(self) -> str:
        lines = self.out.strip().splitlines()
        return lines[-1] if lines else ""


CliRunner = Callable[..., CliResult]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> CliRunner:
    """Run ``wheelhub`` in-process through its real error boundary (only our commands)."""
    import wheelhub.cli as cli_mod

    monkeypatch.setattr(cli_mod, "COMMAND_MODULES",
                        ("wheelhub.cli.publish", "wheelhub.cli.label_for"))

    def run(*argv: str, env: Mapping[str, str] | None = None,
            cwd: Path | None = None) -> CliResult:
        with monkeypatch.context() as patch:
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            # away from the repository's own wheelhub.yaml unless a test says otherwise
            patch.chdir(cwd if cwd is not None else tmp_path)
            capsys.readouterr()
            try:
                code = cli_mod.main(list(argv))
            finally:
                # main() points the wheelhub logger at this test's captured stderr
                root = logging.getLogger("wheelhub")
                for handler in list(root.handlers):
                    root.removeHandler(handler)
                root.propagate = True
            captured = capsys.readouterr()
        return CliResult(code=code, out=captured.out, err=captured.err)

    return run


CI_VARS = ("GITHUB_ACTIONS", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "GITHUB_REF", "GITHUB_REF_TYPE",
           "TRAVIS", "TRAVIS_BRANCH", "TRAVIS_PULL_REQUEST_BRANCH", "TRAVIS_TAG",
           "GITLAB_CI", "CI_COMMIT_REF_NAME", "CI_COMMIT_TAG", "WHEELHUB_LABEL", "WHEELHUB_TOKEN",
           "ANACONDA_TOKEN")


@pytest.fixture(autouse=True)
def _no_ci_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """This suite may itself run in CI: its branch variables must not leak into tests."""
    for var in CI_VARS:
        monkeypatch.delenv(var, raising=False)


# --- wheels and wheelhouses ---------------------------------------------------------------


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(directory: Path, name: str, version: str = "1.0", *,
               tag: str = "py3-none-any", marker: str = "") -> Path:
    """A real, installable pure-Python wheel with correct METADATA, WHEEL and RECORD."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\nMARKER = {marker!r}\n".encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            f"Summary: test package {name}\nRequires-Python: >=3.8\n").encode(),
        f"{dist_info}/WHEEL": (f"Wheel-Version: 1.0\nGenerator: wheelhub-tests\n"
                               f"Root-Is-Purelib: true\nTag: {tag}\n").encode(),
    }
    record_lines = [f"{path},{_record_hash(data)},{len(data)}" for path, data in files.items()]
    record_lines.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record_lines) + "\n").encode()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{module}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for arcname, data in files.items():
            info = zipfile.ZipInfo(arcname, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


def wheel_record(path: Path, project: str, version: str) -> WheelRecord:
    data = path.read_bytes()
    return WheelRecord(filename=path.name, sha256=hashlib.sha256(data).hexdigest(),
                       size=len(data), project=project, version=version, tags=("py3-none-any",))


@dataclass(frozen=True)
class Pkg:
    name: str
    version: str = "1.0"
    build: str = "built"  # built/cached/failed
    test: str = "passed"  # passed/failed/untested
    marker: str = ""


def make_wheelhouse(directory: Path, packages: Sequence[Pkg]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for pkg in packages:
        wheels: tuple[WheelRecord, ...] = ()
        if pkg.build != "failed":
            path = make_wheel(directory, pkg.name, pkg.version, marker=pkg.marker)
            wheels = (wheel_record(path, pkg.name, pkg.version),)
        entries.append(Entry(requirement=f"{pkg.name}=={pkg.version}", project=pkg.name,
                             python="cp311", key=hashlib.sha256(pkg.name.encode()).hexdigest(),
                             status=pkg.build,  # type: ignore[arg-type]
                             wheels=wheels,
                             test=TestRecord(status=pkg.test)))  # type: ignore[arg-type]
    Manifest(entries=tuple(entries)).save(directory)
    return directory


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    """Two tested wheels."""
    return make_wheelhouse(tmp_path / "wheelhouse", [Pkg("alpha"), Pkg("beta-pkg", "2.0")])


# --- servers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@contextlib.contextmanager
def running(argv: Sequence[str], url: str, *, log: Path,
            env: Mapping[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT,
                                env=dict(env) if env is not None else None)
        try:
            wait_http(url, proc)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass(frozen=True)
class PypiServer:
    url: str  # upload + index root, e.g. http://127.0.0.1:PORT/
    packages: Path
    username: str
    password: str


@pytest.fixture
def pypiserver(tmp_path: Path) -> Iterator[PypiServer]:
    """A real pypiserver with an htpasswd (user 'ci', password TOKEN), uploads need auth."""
    packages = tmp_path / "pypiserver-packages"
    packages.mkdir()
    htpasswd = tmp_path / "htpasswd"
    # apache "{SHA}" format is understood by passlib, which pypiserver uses.
    digest = base64.b64encode(hashlib.sha1(TOKEN.encode()).digest()).decode()
    htpasswd.write_text(f"ci:{{SHA}}{digest}\n")
    port = free_port()
    argv = [str(VENV_BIN / "pypi-server"), "run", "-p", str(port), "-i", "127.0.0.1",
            "--server", "auto", "-a", "update", "-P", str(htpasswd),
            "--hash-algo", "sha256", str(packages)]
    with running(argv, f"http://127.0.0.1:{port}/simple/", log=tmp_path / "pypiserver.log"):
        yield PypiServer(url=f"http://127.0.0.1:{port}/", packages=packages,
                         username="ci", password=TOKEN)


# --- pip in a clean venv ------------------------------------------------------------------


@pytest.fixture(scope="session")
def clean_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (with its own pip, no wheelhub); tests install into their own --target."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, env=pip_env())
    return root


def pip_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env.update(PIP_CONFIG_FILE="/dev/null", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_NO_INPUT="1")
    return env


def pip_install(venv: Path, index_url: str, target: Path, *requirements: str,
                extra: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """The clean venv's pip, from *index_url* only, into *target*; no cache, no pip.conf."""
    return subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir",
         "--index-url", index_url, "--target", str(target), "--no-deps", *extra, *requirements],
        capture_output=True, text=True, env=pip_env(), check=False, timeout=120)


def import_from(target: Path, module: str, venv: Path) -> str:
    """Import *module* from *target* in the clean venv and return its VERSION."""
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", f"import {module}; print({module}.VERSION)"],
        capture_output=True, text=True, check=True, env={"PYTHONPATH": str(target)})
    return proc.stdout.strip()


def nginx_available() -> bool:
    return shutil.which("nginx") is not None or Path("/usr/sbin/nginx").exists()
