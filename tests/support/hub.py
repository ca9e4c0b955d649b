"""Helpers for tests (ours and other modules'): a real hub in a subprocess, tiny wheels.

    from tests.support.hub import running_hub, make_wheel
    from wheelhub.server import create_token

    with running_hub(tmp_path / "hub") as hub:
        token = create_token(hub.root, owner="acme", scope="upload")
        # twine upload --repository-url hub.upload_url("acme", "feature-x") -u __token__ -p token
        # pip install --index-url hub.index_url("acme", "feature-x") pkg
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from wheelhub.errors import WheelhubError


@dataclass(frozen=True, kw_only=True, slots=True)
class HubProcess:
    base_url: str  # http://127.0.0.1:PORT (no trailing slash)
    root: Path
    port: int
    pid: int
    log_path: Path

    def label_path(self, owner: str, label: str = "main", token: str | None = None) -> str:
        prefix = f"/t/{token}" if token else ""
        return f"{prefix}/{owner}/" if label == "main" else f"{prefix}/{owner}/label/{label}/"

    def upload_url(self, owner: str, label: str = "main") -> str:
        """Where twine uploads (``--repository-url``)."""
        return self.base_url + self.label_path(owner, label)

    def index_url(self, owner: str, label: str = "main", token: str | None = None) -> str:
        """What pip/uv use as ``--index-url``; with *token*, the ``/t/<token>/`` form."""
        return self.base_url + self.label_path(owner, label, token) + "simple/"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(base_url: str, *, timeout: float = 15.0,
                  process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise WheelhubError(f"the hub exited with code {process.returncode} at startup")
        try:
            with urllib.request.urlopen(base_url + "/_health", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.02)
    raise WheelhubError(f"the hub did not answer on {base_url} within {timeout:.0f}s")


def start_hub(root: Path, *, port: int | None = None, extra_args: Sequence[str] = (),
              env: Mapping[str, str] | None = None,
              log_path: Path | None = None) -> tuple[subprocess.Popen[bytes], HubProcess]:
    """Start ``wheelhub serve`` and wait for it; the caller must stop the process."""
    root.mkdir(parents=True, exist_ok=True)
    log_path = log_path or root.parent / f"{root.name}-serve.log"
    for _attempt in range(3):
        chosen = port or free_port()
        command = [sys.executable, "-m", "wheelhub", "serve", "--root", str(root),
                   "--host", "127.0.0.1", "--port", str(chosen), *extra_args]
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                       env={**os.environ, **(env or {})})
        hub = HubProcess(base_url=f"http://127.0.0.1:{chosen}", root=root, port=chosen,
                         pid=process.pid, log_path=log_path)
        try:
            wait_until_up(hub.base_url, process=process)
        except WheelhubError:
            stop_hub(process)
            if port is not None:
                raise
            continue
        return process, hub
    raise WheelhubError(f"could not start the hub; see {log_path}")


def stop_hub(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running_hub(root: Path, *, extra_args: Sequence[str] = (),
                env: Mapping[str, str] | None = None) -> Iterator[HubProcess]:
    """``wheelhub serve --root ROOT`` on a free 127.0.0.1 port, stopped on exit."""
    process, hub = start_hub(root, extra_args=extra_args, env=env)
    try:
        yield hub
    finally:
        stop_hub(process)


def offline_pip_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for pip/uv subprocesses that must only see the index given on the command
    line: no pip.conf, no find-links, no extra index, no cache."""
    env = dict(os.environ if base is None else base)
    for key in list(env):
        if key.startswith(("PIP_", "UV_")):
            del env[key]
    env.update({"PIP_CONFIG_FILE": "/dev/null", "PIP_NO_CACHE_DIR": "1",
                "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1",
                "UV_NO_CACHE": "1", "UV_NO_CONFIG": "1", "UV_OFFLINE": "0"})
    return env


# -- raw HTTP (for the malformed requests twine would refuse to send) -------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


def http(url: str, *, method: str = "GET", data: bytes | None = None,
         headers: Mapping[str, str] | None = None, token: str | None = None) -> Reply:
    """One request without following redirects; errors are returned, not raised."""
    all_headers = dict(headers or {})
    if token is not None:
        auth = base64.b64encode(f"__token__:{token}".encode()).decode()
        all_headers["Authorization"] = f"Basic {auth}"
    request = urllib.request.Request(url, data=data, method=method,
                                     headers=all_headers)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return Reply(status=response.status,
                         headers={k.lower(): v for k, v in response.headers.items()},
                         body=response.read())
    except urllib.error.HTTPError as error:
        return Reply(status=error.code, headers={k.lower(): v for k, v in error.headers.items()},
                     body=error.read())


def multipart(fields: Mapping[str, str], filename: str | None, content: bytes) -> tuple[bytes,
                                                                                          str]:
    boundary = "wheelhubtestboundary" + hashlib.sha256(content).hexdigest()[:16]
    parts = []
    for key, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                     f"{value}\r\n".encode())
    if filename is not None:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
                     f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                     .encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload_form(path: Path, data: bytes, *, name: str | None = None,
                version: str | None = None, **extra: str) -> dict[str, str]:
    stem = path.name.split("-")
    fields = {":action": "file_upload", "protocol_version": "1",
              "name": name if name is not None else stem[0],
              "version": version if version is not None else stem[1].removesuffix(".tar.gz"),
              "filetype": "bdist_wheel" if path.suffix == ".whl" else "sdist",
              "sha256_digest": hashlib.sha256(data).hexdigest(),
              "md5_digest": hashlib.md5(data, usedforsecurity=False).hexdigest()}
    fields.update(extra)
    return {k: v for k, v in fields.items() if v != "<omit>"}


def upload(url: str, path: Path, token: str | None, *, filename: str | None = None,
           content: bytes | None = None, form: Mapping[str, str] | None = None,
           **fields: str) -> Reply:
    """POST a twine-style upload with urllib (for the malformed cases twine would refuse).

    Form fields default to what twine sends for *path*; override any with *form*/keywords,
    or drop one by giving it the value ``"<omit>"``.
    """
    data = content if content is not None else path.read_bytes()
    body, content_type = multipart(upload_form(path, data, **{**(form or {}), **fields}),
                                   filename if filename is not None else path.name, data)
    return http(url, method="POST", data=body, headers={"Content-Type": content_type},
                token=token)


# -- tiny distributions ----------------------------------------------------------------


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def metadata_text(name: str, version: str, *, requires_python: str | None = None,
                  requires: Sequence[str] = (), summary: str = "A tiny test package") -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
             f"Summary: {summary}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {req}" for req in requires]
    return "\n".join(lines) + "\n\n"


def make_wheel(directory: Path, name: str, version: str, *, tag: str = "py3-none-any",
               requires_python: str | None = None, requires: Sequence[str] = (),
               metadata_name: str | None = None, payload: bytes = b"",
               build: str | None = None) -> Path:
    """Write a small but valid wheel (METADATA, WHEEL, RECORD, a module) and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    dist = canonicalize_name(name).replace("-", "_")
    module = dist
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"__version__ = {version!r}\n".encode() + payload,
        f"{info}/METADATA": metadata_text(metadata_name or name, version,
                                          requires_python=requires_python,
                                          requires=requires).encode(),
        f"{info}/WHEEL": (f"Wheel-Version: 1.0\nGenerator: wheelhub-tests\n"
                          f"Root-Is-Purelib: {'true' if tag.endswith('-any') else 'false'}\n"
                          + "".join(f"Tag: {t}\n" for t in _expand(tag))).encode(),
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    record += f"{info}/RECORD,,\n"
    build_part = f"-{build}" if build else ""
    path = directory / f"{dist}-{version}{build_part}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            archive.writestr(member, data)
        archive.writestr(f"{info}/RECORD", record)
    return path


def _expand(tag: str) -> list[str]:
    pythons, abis, platforms = tag.split("-")
    return [f"{p}-{a}-{pl}" for p in pythons.split(".") for a in abis.split(".")
            for pl in platforms.split(".")]


def make_sdist(directory: Path, name: str, version: str, *,
               requires_python: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    dist = canonicalize_name(name).replace("-", "_")
    base = f"{dist}-{version}"
    path = directory / f"{base}.tar.gz"
    members = {f"{base}/PKG-INFO": metadata_text(name, version,
                                                 requires_python=requires_python).encode(),
               f"{base}/setup.py": b"from setuptools import setup\nsetup()\n"}
    with tarfile.open(path, "w:gz") as archive:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return path
