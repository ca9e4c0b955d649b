"""One client for the hub's management API, local (``--root``) or remote (a hub URL).

:class:`LocalClient` calls :class:`wheelhub.server.operations.Operations` on the storage
under a root; :class:`RemoteClient` sends the same JSON arguments to the same operations
over HTTP with an admin token. Both return the same JSON results and raise the same
:class:`HubError` (a remote one is rebuilt from the ``message`` / ``hint:`` answer), so the
CLI does not know which one it holds.
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from wheelhub.index import urls
from wheelhub.server import open_storage
from wheelhub.server.errors import HubError
from wheelhub.server.hub import Hub, HubSettings
from wheelhub.server.operations import Actor, Operations, Result
from wheelhub.util.redact import redact


class HubClient(Protocol):
    def label(self, owner: str, label: str, operation: str,
              args: Mapping[str, object]) -> Result: ...
    def owner(self, owner: str, operation: str, args: Mapping[str, object]) -> Result: ...
    def files(self, owner: str, label: str) -> Result: ...
    def archive(self, owner: str, label: str, out: Path) -> None: ...
    def import_archive(self, owner: str, label: str, path: Path) -> Result: ...
    def close(self) -> None: ...


def _roundtrip(result: Result) -> Result:
    """What the HTTP client would see: JSON types only."""
    loaded: Result = json.loads(json.dumps(result))
    return loaded


class LocalClient:
    """The hub's files, opened directly (the actor in the audit log is the local user)."""

    def __init__(self, root: Path) -> None:
        self.storage = open_storage(root)
        self.operations = Operations(Hub(self.storage, HubSettings(root=root)))
        self.actor = Actor.local()

    def label(self, owner: str, label: str, operation: str,
              args: Mapping[str, object]) -> Result:
        return _roundtrip(self.operations.label(self.actor, owner, label, operation, args))

    def owner(self, owner: str, operation: str, args: Mapping[str, object]) -> Result:
        return _roundtrip(self.operations.owner(self.actor, owner, operation, args))

    def files(self, owner: str, label: str) -> Result:
        return _roundtrip(self.operations.files(owner, label))

    def archive(self, owner: str, label: str, out: Path) -> None:
        self.operations.archive(self.actor, owner, label, out)

    def import_archive(self, owner: str, label: str, path: Path) -> Result:
        return _roundtrip(self.operations.import_archive(self.actor, owner, label, path,
                                                         path.name))

    def close(self) -> None:
        self.storage.close()


class RemoteClient:
    """A hub at *base_url* (``http://hub:8080``, without the owner), with an admin token."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 300.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout

    def _request(self, url: str, *, method: str = "POST", data: bytes | None = None,
                 content_type: str = "application/json",
                 headers: Mapping[str, str] | None = None) -> urllib.request.Request:
        import base64

        auth = base64.b64encode(f"__token__:{self._token}".encode()).decode()
        return urllib.request.Request(url, data=data, method=method, headers={  # noqa: S310 - the hub URL the user gave
            "Authorization": f"Basic {auth}", "Content-Type": content_type,
            "User-Agent": "wheelhub-cli", **(headers or {})})

    def _open(self, request: urllib.request.Request, out: Path | None = None) -> bytes:
        shown = redact(request.full_url, [self._token])
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                if out is None:
                    body: bytes = response.read()
                    return body
                with out.open("wb") as handle:
                    shutil.copyfileobj(response, handle, 1024 * 1024)
                return b""
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            message, _, hint = text.strip().partition("\nhint: ")
            raise HubError(redact(message or f"HTTP {error.code} from {shown}", [self._token]),
                           hint=hint or None, status=error.code) from None
        except (OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise HubError(f"cannot reach the hub at {shown}: {reason}",
                           hint="check the hub URL (--url / WHEELHUB_URL) and that it is "
                           "running") from None

    def _post(self, url: str, args: Mapping[str, object]) -> Result:
        result: Result = json.loads(self._open(self._request(url, data=json.dumps(args).encode())))
        return result

    def label(self, owner: str, label: str, operation: str,
              args: Mapping[str, object]) -> Result:
        return self._post(urls.api_url(self.base_url, owner, label, operation), args)

    def owner(self, owner: str, operation: str, args: Mapping[str, object]) -> Result:
        return self._post(urls.api_owner_url(self.base_url, owner, operation), args)

    def files(self, owner: str, label: str) -> Result:
        request = self._request(urls.api_url(self.base_url, owner, label, "files"), method="GET")
        result: Result = json.loads(self._open(request))
        return result

    def archive(self, owner: str, label: str, out: Path) -> None:
        partial = out.with_name(out.name + ".part")
        try:
            self._open(self._request(urls.api_url(self.base_url, owner, label, "archive"),
                                     method="GET"), out=partial)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)

    def import_archive(self, owner: str, label: str, path: Path) -> Result:
        with path.open("rb") as handle:
            request = self._request(urls.api_url(self.base_url, owner, label, "import"),
                                    data=handle,  # type: ignore[arg-type] # streamed
                                    content_type="application/x-tar",
                                    headers={"Content-Length": str(path.stat().st_size),
                                             "X-Wheelhub-Archive-Name": path.name})
            result: Result = json.loads(self._open(request))
        return result

    def close(self) -> None:
        return None
