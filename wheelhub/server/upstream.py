"""An owner's upstream index (PyPI, or any simple API): the hub is its caching proxy.

Pages are fetched (PEP 691 JSON when offered), kept with a TTL and revalidated with
ETag/If-None-Match; when the upstream is down or slow the cached page is served
(stale-if-error). The hub's copy of a page links every file to the hub itself: a file is
fetched on first request, checked against the hash the upstream page gave, stored
content-addressed and served from the hub from then on. So clients need only the hub
(one origin, the CSP and redirect rules stay as they are) and nothing unverified is ever
served. Requests to the upstream carry no credentials: no client header is forwarded
and ``~/.netrc`` is not read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from wheelhub.index.dists import parse_dist_filename
from wheelhub.index.errors import InvalidDistribution
from wheelhub.index.names import is_valid_project, normalize_project
from wheelhub.index.simple import (
    ACCEPT,
    JSON_TYPE,
    METADATA_SUFFIX,
    IndexFile,
    parse_project,
    render_project,
)
from wheelhub.index.urls import project_file_href
from wheelhub.server.errors import HubNotFound, UpstreamError
from wheelhub.server.storage import CachedUpstreamPage, Storage, Upstream
from wheelhub.util.log import get_logger
from wheelhub.util.redact import redact

log = get_logger("server")

HUB_HEADER = "X-Wheelhub-Hub"  # the requesting hub's id: a hub refuses to be its own upstream
_CHUNK = 1024 * 1024
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True, kw_only=True, slots=True)
class UpstreamSettings:
    ttl: float = 600.0  # seconds a fetched page is served before it is revalidated
    timeout: float = 10.0  # connect and read timeout of one request to the upstream
    max_file_bytes: int = 4 * 1024 * 1024 * 1024


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An auth hook that adds nothing: set, it stops requests from reading ~/.netrc."""
    return request


def _session(hub_id: str) -> requests.Session:
    session = requests.Session()
    session.auth = _no_auth
    session.headers.update({"User-Agent": "wheelhub-hub", HUB_HEADER: hub_id})
    return session


def normalize_upstream_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query:
        raise UpstreamError.bad_url(url)
    if parts.username or parts.password:
        raise UpstreamError.bad_url(url, "it carries credentials; an upstream is read "
                                         "anonymously")
    return url if url.endswith("/") else url + "/"


def hub_files(files: tuple[IndexFile, ...]) -> list[IndexFile]:
    """The upstream's files as the hub lists them: each link points at the hub."""
    return [dataclasses.replace(f, url=project_file_href(f.filename)) for f in files]


def check_upstream(url: str, hub_id: str, timeout: float = 10.0) -> str:
    """*url* normalized, once it answers as a simple index that is not this hub."""
    url = normalize_upstream_url(url)
    session = _session(hub_id)
    try:
        response = session.get(url, headers={"Accept": ACCEPT}, timeout=timeout, stream=True)
    except requests.RequestException as error:
        raise UpstreamError.unreachable(url, _why(error)) from None
    try:
        if response.status_code == UpstreamError.LOOP_STATUS:
            raise UpstreamError.loop(url)
        if response.status_code != 200:
            raise UpstreamError.not_an_index(url, f"HTTP {response.status_code}")
        if JSON_TYPE in response.headers.get("Content-Type", ""):
            return url
        head = response.raw.read(_SNIFF_BYTES, decode_content=True).decode("utf-8", "replace")
        if "pypi:repository-version" in head or "simple index" in head.lower():
            return url
        raise UpstreamError.not_an_index(url, "the page is not a PEP 503/691 project list")
    finally:
        response.close()
        session.close()


def check_allow(names: list[str]) -> frozenset[str]:
    """Normalized allow-list names; every invalid one named at once."""
    bad = [name for name in names if not is_valid_project(name)]
    if bad:
        raise UpstreamError.bad_names(bad)
    return frozenset(normalize_project(name) for name in names)


def _why(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, requests.Timeout):
        return "timed out"
    if "Connection refused" in text:
        return "connection refused"
    return redact(text.splitlines()[0][:160] if text else type(error).__name__)


def _failed(url: str, error: requests.RequestException) -> UpstreamError:
    return UpstreamError.failed(url, _why(error), timed_out=isinstance(error, requests.Timeout))


class UpstreamClient:
    """Fetches and caches upstream pages and files in the hub's storage."""

    def __init__(self, storage: Storage, settings: UpstreamSettings) -> None:
        self.storage = storage
        self.settings = settings
        self._session = _session(storage.hub_id())

    def close(self) -> None:
        self._session.close()

    # -- pages --------------------------------------------------------------------------
    def fresh_project(self, upstream: Upstream, project: str) -> CachedUpstreamPage | None:
        """The cached page of *project* while within the TTL, else None; never the network,
        so the server's event loop may ask without a hop to a worker thread."""
        cached = self.storage.upstream_page(upstream.url, project)
        return cached if cached is not None and self._fresh(cached, time.time()) else None

    def _fresh(self, cached: CachedUpstreamPage, now: float) -> bool:
        return now - cached.fetched < self.settings.ttl

    def project(self, upstream: Upstream, project: str) -> CachedUpstreamPage:
        """The upstream's page of *project*: cached, revalidated after the TTL, and the
        stale copy when the upstream fails."""
        cached = self.storage.upstream_page(upstream.url, project)
        now = time.time()
        if cached is not None and self._fresh(cached, now):
            return cached
        url = f"{upstream.url}{project}/"
        headers = {"Accept": ACCEPT}
        if cached is not None and cached.etag:
            headers["If-None-Match"] = cached.etag
        try:
            response = self._session.get(url, headers=headers, timeout=self.settings.timeout)
        except requests.RequestException as error:
            return self._stale(cached, _failed(url, error))
        if response.status_code == 304 and cached is not None:
            fresh = dataclasses.replace(cached, fetched=now)
            self.storage.store_upstream_page(upstream.url, project, fresh)
            return fresh
        if response.status_code == 404:
            raise HubNotFound.thing(f"project '{project}' (here and upstream)")
        if response.status_code == UpstreamError.LOOP_STATUS:
            raise UpstreamError.loop(upstream.url)
        if response.status_code != 200:
            return self._stale(cached, UpstreamError.answered(url, response.status_code))
        try:
            files = parse_project(response.content, response.headers.get("Content-Type", ""))
        except (ValueError, KeyError, TypeError):
            return self._stale(cached, UpstreamError.not_an_index(url, "not a project page"))
        # Only what can be checked is offered: a file without a sha256 is left out.
        absolute = tuple(dataclasses.replace(f, url=urljoin(response.url, f.url))
                         for f in files if f.sha256)
        page = CachedUpstreamPage.of(
            fetched=now, etag=response.headers.get("ETag"), files=absolute,
            rendered=render_project(project, hub_files(absolute), tracks=(url,)))
        self.storage.store_upstream_page(upstream.url, project, page)
        return page

    @staticmethod
    def _stale(cached: CachedUpstreamPage | None, error: UpstreamError) -> CachedUpstreamPage:
        if cached is None:
            raise error
        log.warning("%s; serving the page cached %.0fs ago", error.message,
                    time.time() - cached.fetched)
        return cached

    # -- files --------------------------------------------------------------------------
    def file(self, upstream: Upstream, filename: str) -> tuple[str, int]:
        """(sha256, size) of the blob holding the upstream's *filename* (a distribution,
        or its ``.metadata``): fetched and checked on first use."""
        known = self.storage.upstream_blob(upstream.url, filename)
        if known is not None:
            return known
        dist = filename.removesuffix(METADATA_SUFFIX)
        try:
            project = parse_dist_filename(dist).project
        except InvalidDistribution:
            raise HubNotFound.thing(f"'{filename}'") from None
        page = self.project(upstream, project)
        entry = next((f for f in page.files if f.filename == dist), None)
        if entry is None:
            raise HubNotFound.thing(f"'{filename}' (here and upstream)")
        if filename.endswith(METADATA_SUFFIX):
            url, expected = entry.url + METADATA_SUFFIX, entry.metadata_sha256
        else:
            url, expected = entry.url, entry.sha256
        if not expected:
            raise HubNotFound.thing(f"'{filename}' (the upstream offers no hash for it)")
        sha256, size = self._download(upstream, filename, url, expected)
        log.info("fetched %s from upstream %s (%d bytes)", filename, upstream.url, size)
        return sha256, size

    def _download(self, upstream: Upstream, filename: str, url: str,
                  expected: str) -> tuple[str, int]:
        handle, temp = self.storage.temp_file()
        digest = hashlib.sha256()
        size = 0
        try:
            with handle, self._session.get(url, timeout=self.settings.timeout,
                                           stream=True) as response:
                if response.status_code != 200:
                    raise UpstreamError.answered(url, response.status_code)
                for chunk in response.iter_content(_CHUNK):
                    size += len(chunk)
                    if size > self.settings.max_file_bytes:
                        raise UpstreamError.too_large(filename, self.settings.max_file_bytes)
                    digest.update(chunk)
                    handle.write(chunk)
            if digest.hexdigest() != expected.lower():
                raise UpstreamError.tampered(filename, expected, digest.hexdigest())
            self.storage.add_upstream_blob(upstream.url, filename, temp, expected.lower(), size)
        except requests.RequestException as error:
            raise _failed(url, error) from None
        finally:
            temp.unlink(missing_ok=True)
        return expected.lower(), size
