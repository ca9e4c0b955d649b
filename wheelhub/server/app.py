"""The hub's ASGI application: routes requests to :class:`Hub` and renders responses.

The URL scheme, and the parsing of a path into a route, is :mod:`wheelhub.index.urls`;
this module only maps each kind of route to a view. Every URL also works under a
``/t/<token>/`` prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import sqlite3
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar
from urllib.parse import quote

from wheelhub.errors import WheelhubError
from wheelhub.index import urls
from wheelhub.index.simple import METADATA_SUFFIX
from wheelhub.index.urls import Route, RouteKind
from wheelhub.server import tokens, web
from wheelhub.server.asgi import (
    CONTENT_TYPES,
    Receive,
    Request,
    Response,
    Scope,
    Send,
    accepts_gzip,
    etag_matches,
    negotiate,
    redirect,
    text,
)
from wheelhub.server.cache import MAX_RECORDS, CacheStore
from wheelhub.server.errors import HubDiskFull, HubError, HubNotFound, UploadRejected
from wheelhub.server.hub import Hub
from wheelhub.server.multipart import FormParser
from wheelhub.server.storage import Label, Owner, Selection, TokenRecord
from wheelhub.server.storage import Scope as TokenScope
from wheelhub.util.log import get_logger
from wheelhub.util.redact import redact

log = get_logger("server")
T = TypeVar("T")

_NO_CACHE = (b"cache-control", b"max-age=0, must-revalidate")
_VARY = (b"vary", b"Accept, Accept-Encoding")
_IMMUTABLE = (b"cache-control", b"public, max-age=31536000, immutable")
_HTML = "text/html; charset=utf-8"
_PAGE_CSP = (b"content-security-policy", web.CSP.encode())
# Printable ASCII that may stay as it is in a logged path; the rest is %-escaped, so a
# path holding a newline or an escape sequence cannot forge or garble a log line.
_LOG_SAFE = "/:@!$&'()*+,;=-._~"


def _disk_full(error: BaseException) -> bool:
    """ENOSPC/EDQUOT from a write, or SQLite's SQLITE_FULL."""
    if isinstance(error, OSError):
        return error.errno in {errno.ENOSPC, errno.EDQUOT}
    return isinstance(error, sqlite3.OperationalError) and "full" in str(error)


def loggable(path: str) -> str:
    return redact(quote(path, safe=_LOG_SAFE))


class HubApp:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.storage = hub.storage
        self.cache = CacheStore.of(hub.storage)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request = self._request(scope, receive)
        try:
            response = await self._dispatch(request)
        except HubError as error:
            response = self._error(error)
        except WheelhubError as error:  # e.g. a usage error from a label operation
            response = self._error(HubError(error.message, hint=error.hint))
        except Exception as error:  # one bad request must not take the server down
            response = self._unexpected(request, error)
        if request.method == "POST" and response.status >= 400:
            # A refused body may be unread: drop the connection rather than keep reading it.
            response.headers.append((b"connection", b"close"))
        await response.send(send, head=request.method == "HEAD")
        if self.hub.settings.access_log:
            log.info("%s %s %d %.1fms", request.method, loggable(request.prefix + request.path),
                     response.status,
                     (time.perf_counter() - started) * 1000)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.storage.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    @staticmethod
    def _request(scope: Scope, receive: Receive) -> Request:
        root: str = scope.get("root_path", "")
        headers = dict(scope["headers"])
        token, path = urls.split_token(scope["path"])
        prefix = root
        if token is not None:
            prefix = urls.with_token(root, token)
        elif auth := headers.get(b"authorization"):
            token = tokens.from_basic_auth(auth)
        return Request(method=scope["method"], path=path,
                       query=scope.get("query_string", b"").decode("latin-1"), headers=headers,
                       token=token or None, root=root, prefix=prefix,
                       scheme=scope.get("scheme", "http"), receive=receive)

    def _unexpected(self, request: Request, error: Exception) -> Response:
        if _disk_full(error):  # a 507 the client can act on; reads go on being served
            log.error("disk full on %s %s: %s", request.method, loggable(request.path), error)
            return self._error(HubDiskFull.upload())
        log.error("internal error on %s %s\n%s", request.method, loggable(request.path),
                  traceback.format_exc())
        return text(500, "internal server error")

    @staticmethod
    def _error(error: HubError) -> Response:
        message = error.message + (f"\nhint: {error.hint}" if error.hint else "")
        headers = [(b"www-authenticate", b'Basic realm="wheelhub"')] if error.status == 401 else []
        return text(error.status, redact(message), *headers)

    async def _in_thread(self, function: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, function)

    # -- routing ------------------------------------------------------------------------

    async def _dispatch(self, request: Request) -> Response:
        token = self.hub.authenticate(request.token)
        route = urls.parse_path(request.path)
        match route.kind:
            case RouteKind.HOME:
                return self._home(request, token)
            case RouteKind.HEALTH:
                return text(200, "ok")
            case RouteKind.API_LABELS:
                return self._api_labels(route.owner, token)
            case RouteKind.API_LABEL:
                return await self._api_label(request, token, route)
            case RouteKind.API_CACHE_RECORDS | RouteKind.API_CACHE_FILE:
                return await self._api_cache(request, token, route)
            case RouteKind.REDIRECT:
                return redirect(request.prefix + route.location)
            case RouteKind.NOT_FOUND:
                raise HubNotFound.thing(f"'{request.path}'")
            case RouteKind.LABEL:
                return await self._label(request, token, route)
        if request.method not in {"GET", "HEAD"}:
            return text(405, "method not allowed", (b"allow", b"GET, HEAD"))
        if route.location:
            return redirect(request.prefix + route.location)
        if route.kind is RouteKind.SIMPLE:
            return self._simple(request, token, route.owner, route.label, route.project)
        if route.kind is RouteKind.METADATA:
            return self._metadata(token, route.owner, route.label, route.filename)
        return self._file(request, token, route.owner, route.label, route.filename)

    async def _label(self, request: Request, token: TokenRecord | None, route: Route) -> Response:
        """The label's upload URL (POST) and web page; ``/<owner>/`` is the owner's page."""
        if request.method == "POST":
            return await self._upload(request, token, route.owner, route.label)
        if route.location:
            return redirect(request.prefix + route.location)
        if route.explicit_label:
            return self._label_page(request, token, route.owner, route.label)
        return self._owner_page(request, token, route.owner)

    # -- the simple API ----------------------------------------------------------------

    def _simple(self, request: Request, token: TokenRecord | None, owner: str, label: str,
                project: str) -> Response:
        kind = negotiate(request.header(b"accept"))
        if "format=" in request.query:
            kind = "json" if "json" in request.query else "html"
        gz = accepts_gzip(request.header(b"accept-encoding"))
        lookup = self.storage.page(owner, label, project, json=kind == "json", gzip=gz)
        if (hidden := self.hub.hidden(lookup.visibility, owner, label, token)) is not None:
            raise hidden
        if lookup.page is None:
            raise HubNotFound.thing(f"project '{project}' in '{owner}/{label}'")
        etag = f'"{lookup.page.etag}-{kind[0]}{"z" if gz else ""}"'.encode()
        headers = [(b"etag", etag), _VARY, _NO_CACHE]
        if gz:
            headers.append((b"content-encoding", b"gzip"))
        if etag_matches(request.headers.get(b"if-none-match"), etag):
            return Response(status=304, headers=headers, content_type=CONTENT_TYPES[kind])
        return Response(status=200, body=lookup.page.body, content_type=CONTENT_TYPES[kind],
                        headers=headers)

    def _metadata(self, token: TokenRecord | None, owner: str, label: str,
                  filename: str) -> Response:
        self.hub.check_read(owner, label, token)
        metadata = self.storage.core_metadata(owner, label, filename)
        if metadata is None:
            raise HubNotFound.thing(f"'{filename}{METADATA_SUFFIX}' in '{owner}/{label}'")
        return Response(status=200, body=metadata, content_type="text/plain; charset=utf-8",
                        headers=[_IMMUTABLE])

    def _file(self, request: Request, token: TokenRecord | None, owner: str, label: str,
              filename: str) -> Response:
        self.hub.check_read(owner, label, token)
        record = self.storage.find_file(owner, label, filename)
        if record is None:
            raise HubNotFound.thing(f"'{filename}' in '{owner}/{label}'")
        etag = f'"{record.sha256}"'.encode()
        headers = [(b"etag", etag), _IMMUTABLE]
        if etag_matches(request.headers.get(b"if-none-match"), etag):
            return Response(status=304, headers=headers)
        kind = "application/zip" if filename.endswith((".whl", ".zip")) else "application/x-tar"
        return Response(status=200, content_type=kind, headers=headers,
                        file=str(self.storage.blob_path(record.sha256)), length=record.size)

    # -- uploads -----------------------------------------------------------------------

    async def _upload(self, request: Request, token: TokenRecord | None, owner: str,
                      label: str) -> Response:
        # Refuse before reading the body when the token cannot upload here.
        self.hub.check_write(owner, label, token, TokenScope.UPLOAD)
        settings = self.hub.settings
        temps: list[Path] = []

        def new_file() -> tuple[BinaryIO, Path]:
            handle, path = self.storage.temp_file()
            temps.append(path)
            return handle, path

        # The file part streams to disk as it arrives; only the small fields stay in memory.
        parser = FormParser(request.header(b"content-type"), new_file)
        try:
            async for chunk in request.chunks(settings.max_upload_bytes,
                                              idle=settings.body_timeout,
                                              min_rate=settings.min_body_rate):
                parser.feed(chunk)
            form = parser.finish()
            parser.close()

            def work() -> str:
                outcome, record = self.hub.upload(owner, label, form, token)
                return f"{outcome.value}: {record.filename}"

            return text(200, await self._in_thread(work))
        finally:
            parser.close()
            for path in temps:  # every failure path; a stored upload was moved away
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    # -- web pages ---------------------------------------------------------------------

    def _home(self, request: Request, token: TokenRecord | None) -> Response:
        owners = [o for o in self.storage.list_owners()
                  if not o.private or (token is not None and token.owner == o.name)]
        return Response(status=200, body=web.home_page(owners, request.prefix),
                        content_type=_HTML,
                        headers=[_PAGE_CSP])

    def _visible_labels(self, owner: str, token: TokenRecord | None) -> tuple[Owner, list[Label]]:
        """The owner and the labels *token* may see (404 for a private owner without one)."""
        found = self.storage.get_owner(owner)
        if found is None or (found.private and (token is None or token.owner != owner)):
            raise HubNotFound.owner(owner)
        labels = [lab for lab in self.storage.list_labels(owner)
                  if not lab.private or (token is not None
                                         and tokens.grants(token, owner=owner, label=lab.name,
                                                           needed=TokenScope.READ))]
        return found, labels

    def _owner_page(self, request: Request, token: TokenRecord | None, owner: str) -> Response:
        found, labels = self._visible_labels(owner, token)
        body = web.owner_page(found, labels, request.base_url + request.prefix)
        return Response(status=200, body=body, content_type=_HTML,
                        headers=[_PAGE_CSP])

    def _label_page(self, request: Request, token: TokenRecord | None, owner: str,
                    label: str) -> Response:
        visibility = self.hub.check_read(owner, label, token)
        files = self.storage.list_files(owner, label)
        body = web.label_page(owner, label, files, root_url=request.base_url + request.root,
                              prefix=request.prefix, private=visibility.private)
        return Response(status=200, body=body, content_type=_HTML,
                        headers=[_PAGE_CSP])

    # -- label API ---------------------------------------------------------------------

    def _api_labels(self, owner: str, token: TokenRecord | None) -> Response:
        _found, labels = self._visible_labels(owner, token)
        return _json(200, {"owner": owner, "labels": [
            {"name": lab.name, "private": lab.private, "files": lab.files,
             "projects": lab.projects} for lab in labels]})

    async def _api_label(self, request: Request, token: TokenRecord | None,
                         route: Route) -> Response:
        """A label's files (GET) or an operation on it (POST, admin token)."""
        owner, label, operation = route.owner, route.label, route.operation
        if operation == "files" and request.method in {"GET", "HEAD"}:
            self.hub.check_read(owner, label, token)
            files = [{"filename": r.filename, "project": r.project, "version": r.version,
                      "sha256": r.sha256, "size": r.size, "yanked": r.yanked}
                     for r in self.storage.list_files(owner, label)]
            return _json(200, {"owner": owner, "label": label, "files": files})
        if request.method != "POST":
            return text(405, "method not allowed", (b"allow", b"POST"))
        body = await request.body(1024 * 1024, idle=self.hub.settings.body_timeout,
                                  min_rate=self.hub.settings.min_body_rate)
        try:
            args = json.loads(body or b"{}")
            if not isinstance(args, dict):
                raise TypeError
        except (ValueError, TypeError) as error:
            raise UploadRejected("the request body must be a JSON object") from error
        selection = Selection(project=args.get("project"), version=args.get("version"),
                              filename=args.get("filename"))
        self.hub.check_write(owner, label, token, TokenScope.ADMIN)
        if operation in {"copy", "move"}:
            target = args.get("to")
            if not isinstance(target, str) or not target:
                raise UploadRejected(f"{operation} needs a target label: {{\"to\": \"main\"}}")
            self.hub.check_write(owner, target, token, TokenScope.ADMIN)
            count = await self._in_thread(lambda: self.storage.copy(
                owner, label, target, selection, move=operation == "move"))
        elif operation == "remove":
            count = await self._in_thread(lambda: self.storage.remove(owner, label, selection))
        elif operation == "delete":
            count = await self._in_thread(lambda: self.storage.delete_label(owner, label))
        elif operation in {"yank", "unyank"}:
            reason = str(args.get("reason", "")) if operation == "yank" else None
            count = await self._in_thread(
                lambda: self.storage.yank(owner, label, selection, reason))
        else:
            raise HubNotFound.thing(f"operation '{operation}'")
        return _json(200, {"operation": operation, "files": count})

    # -- build cache (wheelhub.server.cache) -----------------------------------------------

    async def _api_cache(self, request: Request, token: TokenRecord | None,
                         route: Route) -> Response:
        """Records by pre-key (GET), new records (POST, upload token for their label), and
        the files records name; readers see only what their labels allow."""
        if self.cache is None:
            raise HubNotFound.thing("the build cache")
        cache, owner = self.cache, route.owner
        if route.kind is RouteKind.API_CACHE_RECORDS and not route.operation:
            if request.method != "POST":
                return text(405, "method not allowed", (b"allow", b"POST"))
            body = await request.body(16 * 1024 * 1024, idle=self.hub.settings.body_timeout,
                                      min_rate=self.hub.settings.min_body_rate)
            try:
                args = json.loads(body or b"{}")
                label, records = args["label"], args["records"]
                if not isinstance(label, str) or not isinstance(records, list):
                    raise TypeError
            except (ValueError, TypeError, KeyError) as error:
                raise UploadRejected('the body must be {"label": LABEL, "records": [...]}') \
                    from error
            if len(records) > MAX_RECORDS:
                raise UploadRejected(f"at most {MAX_RECORDS} records per request")
            self.hub.check_write(owner, label, token, TokenScope.UPLOAD)
            stored, refused = await self._in_thread(lambda: cache.add(owner, label, records))
            return _json(200, {"stored": stored, "refused": refused})
        if request.method not in {"GET", "HEAD"}:
            return text(405, "method not allowed", (b"allow", b"GET, HEAD"))
        _found, labels = self._visible_labels(owner, token)
        readable = {lab.name for lab in labels}
        if route.kind is RouteKind.API_CACHE_RECORDS:
            found = [{**r.record, "label": r.label} for r in cache.lookup(owner, route.operation)
                     if r.label in readable]
            return _json(200, {"owner": owner, "prekey": route.operation, "records": found})
        record, holding = cache.file_labels(owner, route.filename)
        if record is None or not readable.intersection(holding):
            raise HubNotFound.thing(f"'{route.filename}' in the cache of '{owner}'")
        return Response(status=200, content_type="application/zip", headers=[_IMMUTABLE],
                        file=str(self.storage.blob_path(record.sha256)), length=record.size)


def _json(status: int, data: object) -> Response:
    return Response(status=status, body=json.dumps(data).encode(),
                    content_type="application/json")

