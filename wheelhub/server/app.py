"""The hub's ASGI application: routes requests to :class:`Hub` and renders responses.

The URL scheme, and the parsing of a path into a route, is :mod:`wheelhub.index.urls`;
this module only maps each kind of route to a view. Every URL also works under a
``/t/<token>/`` prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gzip
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
from wheelhub.index.dists import parse_dist_filename
from wheelhub.index.errors import InvalidDistribution
from wheelhub.index.simple import METADATA_SUFFIX, render_project
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
from wheelhub.server.errors import (
    HubDiskFull,
    HubError,
    HubNotFound,
    UploadRejected,
    UpstreamError,
)
from wheelhub.server.hub import Hub
from wheelhub.server.multipart import FormParser
from wheelhub.server.operations import Actor, Operations
from wheelhub.server.storage import AddOutcome, Label, Owner, Page, TokenRecord, Upstream
from wheelhub.server.storage import Scope as TokenScope
from wheelhub.server.upstream import HUB_HEADER, hub_files
from wheelhub.server.webhooks import Deliverer
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
    def __init__(self, hub: Hub, deliverer: Deliverer | None = None) -> None:
        self.hub = hub
        self.storage = hub.storage
        self.deliverer = deliverer
        self.operations = Operations(hub, on_event=deliverer.wake if deliverer else None)
        self.cache = CacheStore(hub.storage)

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
                if self.deliverer is not None:
                    self.deliverer.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.deliverer is not None:
                    self.deliverer.stop()
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
        client = scope.get("client") or ("", 0)
        return Request(method=scope["method"], path=path, client=str(client[0]),
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
        if request.header(HUB_HEADER.lower().encode()) == self.hub.id:
            raise UpstreamError.loop(request.base_url)  # an owner's upstream points back here
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
            case RouteKind.API_OWNER:
                return await self._api_owner(request, token, route)
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
            return await self._simple(request, token, route.owner, route.label, route.project)
        if route.kind is RouteKind.METADATA:
            return await self._metadata(token, route.owner, route.label, route.filename)
        return await self._file(request, token, route.owner, route.label, route.filename)

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

    async def _simple(self, request: Request, token: TokenRecord | None, owner: str,
                      label: str, project: str) -> Response:
        kind = negotiate(request.header(b"accept"))
        if "format=" in request.query:
            kind = "json" if "json" in request.query else "html"
        gz = accepts_gzip(request.header(b"accept-encoding"))
        lookup = self.storage.page(owner, label, project, json=kind == "json", gzip=gz)
        if (hidden := self.hub.hidden(lookup.visibility, owner, label, token)) is not None:
            raise hidden
        page = lookup.page
        upstream = lookup.upstream
        if project and upstream is not None and upstream.serves(project, owned=lookup.owned):
            page = await self._upstream_page(request, owner, label, project, upstream,
                                             lookup.owned, json=kind == "json", gz=gz)
        if page is None:
            raise HubNotFound.thing(f"project '{project}' in '{owner}/{label}'")
        etag = f'"{page.etag}-{kind[0]}{"z" if gz else ""}"'.encode()
        headers = [(b"etag", etag), _VARY, _NO_CACHE]
        if gz:
            headers.append((b"content-encoding", b"gzip"))
        if etag_matches(request.headers.get(b"if-none-match"), etag):
            return Response(status=304, headers=headers, content_type=CONTENT_TYPES[kind])
        return Response(status=200, body=page.body, content_type=CONTENT_TYPES[kind],
                        headers=headers)

    async def _upstream_page(self, request: Request, owner: str, label: str, project: str,
                             upstream: Upstream, owned: bool, *, json: bool, gz: bool) -> Page:
        """The upstream's page; for a name the owner has too (allowed explicitly), both
        sides on one page (the owner's file wins a filename) with PEP 708's keys."""
        # Warm requests stay on the event loop: the thread hop costs more than the lookup.
        cached = self.hub.upstream.fresh_project(upstream, project)
        if cached is None:
            cached = await self._in_thread(lambda: self.hub.upstream.project(upstream, project))
        if not owned:
            return cached.page(json=json, gzip=gz)
        own = self.storage.page_files(owner, label, project)
        names = {f.filename for f in own}
        theirs = [f for f in hub_files(cached.files) if f.filename not in names]
        here = urls.simple_url(request.base_url + request.root, owner, label, project)
        there = f"{upstream.url}{project}/"
        rendered = render_project(project, [*own, *theirs], tracks=(there,),
                                  alternate_locations=(here, there))
        body = rendered.json if json else rendered.html
        return Page(etag=rendered.etag, body=gzip.compress(body, 6, mtime=0) if gz else body)

    async def _from_upstream(self, owner: str, label: str, filename: str) -> str | None:
        """The blob of an upstream file (or ``.metadata``) a label's page links to, or None
        when the name is the owner's own (the name rule) or the owner has no upstream."""
        upstream = self.storage.get_upstream(owner)
        if upstream is None:
            return None
        try:
            project = parse_dist_filename(filename.removesuffix(METADATA_SUFFIX)).project
        except InvalidDistribution:
            return None
        if not upstream.serves(project, owned=self.storage.owns_project(owner, project)):
            return None
        known = self.storage.upstream_blob(upstream.url, filename)  # no hop when fetched before
        if known is None:
            known = await self._in_thread(lambda: self.hub.upstream.file(upstream, filename))
        return known[0]

    async def _metadata(self, token: TokenRecord | None, owner: str, label: str,
                        filename: str) -> Response:
        self.hub.check_read(owner, label, token)
        metadata = self.storage.core_metadata(owner, label, filename)
        if metadata is None and self.storage.find_file(owner, label, filename) is None:
            sha256 = await self._from_upstream(owner, label, filename + METADATA_SUFFIX)
            if sha256 is not None:
                metadata = self.storage.blob_path(sha256).read_bytes()
        if metadata is None:
            raise HubNotFound.thing(f"'{filename}{METADATA_SUFFIX}' in '{owner}/{label}'")
        return Response(status=200, body=metadata, content_type="text/plain; charset=utf-8",
                        headers=[_IMMUTABLE])

    async def _file(self, request: Request, token: TokenRecord | None, owner: str, label: str,
                    filename: str) -> Response:
        self.hub.check_read(owner, label, token)
        record = self.storage.find_file(owner, label, filename)
        if record is not None:
            sha256, size = record.sha256, record.size
        elif (upstream_sha := await self._from_upstream(owner, label, filename)) is not None:
            sha256, size = upstream_sha, self.storage.blob_path(upstream_sha).stat().st_size
        else:
            raise HubNotFound.thing(f"'{filename}' in '{owner}/{label}'")
        etag = f'"{sha256}"'.encode()
        headers = [(b"etag", etag), _IMMUTABLE]
        if etag_matches(request.headers.get(b"if-none-match"), etag):
            return Response(status=304, headers=headers)
        kind = "application/zip" if filename.endswith((".whl", ".zip")) else "application/x-tar"
        return Response(status=200, content_type=kind, headers=headers,
                        file=str(self.storage.blob_path(sha256)), length=size)

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
                if outcome is not AddOutcome.UNCHANGED:
                    self.operations.record(Actor(token=token, address=request.client), owner,
                                           label, "upload", files=(record.filename,),
                                           detail={"outcome": outcome.value})
                return f"{outcome.value}: {record.filename}"

            with self.operations.uploading(owner, label):
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
                              prefix=request.prefix, private=visibility.private,
                              upstream=self.storage.get_upstream(owner) is not None,
                              provenance=self.storage.provenance(owner, label))
        return Response(status=200, body=body, content_type=_HTML,
                        headers=[_PAGE_CSP])

    # -- label API ---------------------------------------------------------------------

    def _api_labels(self, owner: str, token: TokenRecord | None) -> Response:
        _found, labels = self._visible_labels(owner, token)
        upstream = self.storage.get_upstream(owner)
        return _json(200, {"owner": owner, "upstream": upstream.url if upstream else None,
                           "labels": [
            {"name": lab.name, "private": lab.private, "files": lab.files,
             "projects": lab.projects, "bases": list(lab.bases)} for lab in labels]})

    async def _api_label(self, request: Request, token: TokenRecord | None,
                         route: Route) -> Response:
        """A label's files or archive (GET), or an operation on it (POST, admin token)."""
        owner, label, operation = route.owner, route.label, route.operation
        actor = Actor(token=token, address=request.client)
        if operation == "files" and request.method in {"GET", "HEAD"}:
            self.hub.check_read(owner, label, token)
            return _json(200, self.operations.files(owner, label))
        if operation == "archive" and request.method in {"GET", "HEAD"}:
            return await self._archive(actor, owner, label)
        if request.method != "POST":
            return text(405, "method not allowed", (b"allow", b"POST"))
        if operation == "import":
            return await self._import(request, actor, owner, label)
        args = await self._json_body(request)
        return _json(200, await self._in_thread(
            lambda: self.operations.label(actor, owner, label, operation, args)))

    async def _api_owner(self, request: Request, token: TokenRecord | None,
                         route: Route) -> Response:
        """An owner-wide operation: retention rules, prune, audit log, webhooks."""
        actor = Actor(token=token, address=request.client)
        args = await self._json_body(request) if request.method == "POST" else {}
        if request.method not in {"GET", "HEAD", "POST"}:
            return text(405, "method not allowed", (b"allow", b"GET, POST"))
        return _json(200, await self._in_thread(
            lambda: self.operations.owner(actor, route.owner, route.operation, args)))

    async def _json_body(self, request: Request) -> dict[str, object]:
        body = await request.body(1024 * 1024, idle=self.hub.settings.body_timeout,
                                  min_rate=self.hub.settings.min_body_rate)
        try:
            args = json.loads(body or b"{}")
            if not isinstance(args, dict):
                raise TypeError
        except (ValueError, TypeError) as error:
            raise UploadRejected("the request body must be a JSON object") from error
        return args

    async def _archive(self, actor: Actor, owner: str, label: str) -> Response:
        handle, path = self.storage.temp_file()
        handle.close()
        try:
            await self._in_thread(lambda: self.operations.archive(actor, owner, label, path))
        except BaseException:
            path.unlink()
            raise
        return Response(status=200, content_type="application/x-tar", file=str(path),
                        length=path.stat().st_size, remove_file=True)

    async def _import(self, request: Request, actor: Actor, owner: str,
                      label: str) -> Response:
        self.operations.authorize(actor, owner, label)  # before reading the body
        handle, path = self.storage.temp_file()
        settings = self.hub.settings
        try:
            with handle:
                async for chunk in request.chunks(settings.max_upload_bytes,
                                                  idle=settings.body_timeout,
                                                  min_rate=settings.min_body_rate):
                    handle.write(chunk)
            source = request.header(b"x-wheelhub-archive-name") or "upload"
            return _json(200, await self._in_thread(lambda: self.operations.import_archive(
                actor, owner, label, path, source[:200])))
        finally:
            path.unlink(missing_ok=True)

    # -- build cache (wheelhub.server.cache) -----------------------------------------------

    async def _api_cache(self, request: Request, token: TokenRecord | None,
                         route: Route) -> Response:
        """Records by pre-key (GET), new records (POST, upload token for their label), and
        the files records name; readers see only what their labels allow."""
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

