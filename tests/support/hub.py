"""A real hub for tests: ``wheelhub serve`` in a subprocess, and raw HTTP requests to it.

    from tests.support.hub import running_hub
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
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port, running
from wheelhub.index import urls
from wheelhub.index.names import DEFAULT_LABEL
from wheelhub.server.sqlite import Conn


@dataclass(frozen=True, kw_only=True, slots=True)
class HubProcess:
    base_url: str  # http://127.0.0.1:PORT (no trailing slash)
    root: Path
    pid: int
    log_path: Path

    def upload_url(self, owner: str, label: str = DEFAULT_LABEL) -> str:
        """Where twine uploads (``--repository-url``)."""
        return urls.label_url(self.base_url, owner, label)

    def index_url(self, owner: str, label: str = DEFAULT_LABEL, token: str | None = None) -> str:
        """What pip/uv use as ``--index-url``; with *token*, the ``/t/<token>/`` form."""
        base = self.base_url if token is None else urls.with_token(self.base_url, token)
        return urls.simple_url(base, owner, label)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def running_hub(root: Path, *, extra_args: Sequence[str] = (),
                env: Mapping[str, str] | None = None,
                wrapper: Sequence[str] = (), database: str = "") -> Iterator[HubProcess]:
    """``wheelhub serve --root ROOT`` on a free 127.0.0.1 port, stopped on exit; with
    *database* (``postgresql://...``) its metadata lives there.

    *wrapper* runs before the command, which it must ``exec`` (so the pid is the hub's).
    """
    root.mkdir(parents=True, exist_ok=True)
    log_path = root.parent / f"{root.name}-serve.log"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [*wrapper, sys.executable, "-m", "wheelhub", "serve", "--root", str(root),
               "--host", "127.0.0.1", "--port", str(port),
               *(["--database", database] if database else []), *extra_args]
    with running(command, urls.health_url(base_url), log=log_path,
                 env={**os.environ, **(env or {})}) as process:
        yield HubProcess(base_url=base_url, root=root, pid=process.pid, log_path=log_path)


def make_private(hub: HubProcess, owner: str, label: str | None = None) -> None:
    """Make *owner*, or one of its labels, private (what ``wheelhub owner/label
    visibility ... private`` does on the hub's root)."""
    from wheelhub.server import open_storage

    storage = open_storage(hub.root)
    try:
        if label is None:
            storage.set_owner_private(owner, True)
        else:
            storage.set_label_private(owner, label, True)
    finally:
        storage.close()


@contextlib.contextmanager
def raw_database(root: Path) -> Iterator[Conn]:
    """A write transaction on the hub's database, whichever backend, taking SQLite's SQL
    (for synthetic history and for checks no API offers)."""
    from wheelhub.server import open_storage

    storage = open_storage(root)
    try:
        with storage._write() as conn:
            yield conn
    finally:
        storage.close()


def database_bytes(root: Path) -> bytes:
    """Everything the hub's database stores, as bytes (to check what is never stored)."""
    with raw_database(root) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table'" if (root / "hub.sqlite3").exists()
            and not (root / "database.url").exists() else
            "SELECT tablename FROM pg_tables WHERE schemaname='public'")]
        return b"".join(repr(conn.execute(f"SELECT * FROM {t}").fetchall()).encode()
                        for t in tables)


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
