"""Where cache records are read from and written to: a hub (per owner) or a static tree.

Reading never fails a build: a source that cannot be reached, refuses the token or answers
nonsense warns once and is not asked again in this run; a file that is missing or does not
match its record is a miss for that entry (:class:`CacheMiss`). Only a URL that can never be
a cache (a twine index, anaconda.org) is an error, before anything starts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import unquote, urlsplit

import requests

from wheelhub.cache.errors import CacheMiss, CacheUrlError
from wheelhub.cache.records import RECORDS_FILE, RECORDS_FORMAT, CacheRecord
from wheelhub.index import urls
from wheelhub.manifest import WheelRecord
from wheelhub.util.fileio import atomic_write_bytes
from wheelhub.util.log import get_logger
from wheelhub.util.redact import redact

log = get_logger("cache")

STATIC_FILES = "_files"  # where a static tree keeps its wheels (wheelhub.publish.static)
CHUNK = 1024 * 1024


class CacheSource(Protocol):
    description: str  # for people and logs, credentials masked

    def lookup(self, prekey: str) -> list[CacheRecord]:
        """The records under *prekey*, newest first ([] when the source is unusable)."""

    def fetch(self, wheel: WheelRecord, handle: IO[bytes]) -> None:
        """Write the file's bytes to *handle*; CacheMiss when they are not the recorded ones."""


def _parse_records(items: Iterable[Any], where: str) -> list[CacheRecord]:
    records = []
    for item in items:
        try:
            records.append(CacheRecord.from_json(item))
        except ValueError as error:
            log.warning("%s: ignoring a cache record: %s", where, error)
    return records


class _Checked:
    """Streams bytes to a handle while checking them against a wheel record."""

    def __init__(self, wheel: WheelRecord, handle: IO[bytes]) -> None:
        self.wheel, self.handle = wheel, handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.wheel.size:
            raise CacheMiss(f"{self.wheel.filename} is larger than recorded")
        self.digest.update(chunk)
        self.handle.write(chunk)

    def check(self) -> None:
        if self.size != self.wheel.size:
            raise CacheMiss(f"{self.wheel.filename} is {self.size} bytes, recorded "
                            f"{self.wheel.size}")
        if self.digest.hexdigest() != self.wheel.sha256:
            raise CacheMiss(f"{self.wheel.filename} does not match its recorded sha256")


class HubSource:
    """``/api/v1/<owner>/cache/...`` of a hub; read access follows the owner's tokens."""

    def __init__(self, url: str, *, token: str | None, token_env: str,
                 timeout: float = 30.0) -> None:
        self.base, self.owner = urls.split_owner_url(url)
        self.description = redact(url.rstrip("/"), [token or ""])
        self.token_env = token_env
        self.timeout = timeout
        self.broken = ""
        self._seen: dict[str, list[CacheRecord]] = {}
        self.session = requests.Session()
        if token:
            self.session.auth = ("__token__", token)

    def _disable(self, why: str) -> None:
        self.broken = why
        log.warning("cache %s: %s; building without it", self.description, why)

    def lookup(self, prekey: str) -> list[CacheRecord]:
        if self.broken:
            return []
        if prekey not in self._seen:
            self._seen[prekey] = self._lookup(prekey)
        return self._seen[prekey]

    def _lookup(self, prekey: str) -> list[CacheRecord]:
        try:
            response = self.session.get(urls.cache_records_url(self.base, self.owner, prekey),
                                        timeout=self.timeout)
        except requests.RequestException as error:
            self._disable(f"unreachable ({type(error).__name__})")
            return []
        token = "set" if self.session.auth else "not set"
        if response.status_code in (401, 403, 404):
            what = {401: "refused the token", 403: "refused the token",
                    404: f"has no owner '{self.owner}' this token may read"}[response.status_code]
            self._disable(f"{what} (${self.token_env} is {token}; value masked)")
            return []
        try:
            response.raise_for_status()
            items = response.json()["records"]
        except (requests.RequestException, ValueError, KeyError, TypeError) as error:
            self._disable(f"unexpected answer ({redact(str(error))[:120]})")
            return []
        return _parse_records(items, self.description)

    def fetch(self, wheel: WheelRecord, handle: IO[bytes]) -> None:
        url = urls.cache_file_url(self.base, self.owner, wheel.filename)
        checked = _Checked(wheel, handle)
        try:
            with self.session.get(url, timeout=self.timeout, stream=True) as response:
                if response.status_code != 200:
                    raise CacheMiss(f"{wheel.filename}: HTTP {response.status_code}")
                for chunk in response.iter_content(CHUNK):
                    checked.write(chunk)
        except requests.RequestException as error:
            raise CacheMiss(f"{wheel.filename}: {type(error).__name__}") from None
        checked.check()


class StaticSource:
    """``wheelhub-cache.json`` of a static tree and the files in its ``_files/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = f"file://{root}"
        self._records: dict[str, list[Any]] | None = None

    def lookup(self, prekey: str) -> list[CacheRecord]:
        if self._records is None:
            self._records = read_static_records(self.root)
        return _parse_records(self._records.get(prekey, ()), self.description)

    def fetch(self, wheel: WheelRecord, handle: IO[bytes]) -> None:
        checked = _Checked(wheel, handle)
        try:
            with (self.root / STATIC_FILES / wheel.filename).open("rb") as source:
                while chunk := source.read(CHUNK):
                    checked.write(chunk)
        except OSError as error:
            raise CacheMiss(f"{wheel.filename}: {error.strerror or error}") from None
        checked.check()


def read_static_records(root: Path) -> dict[str, list[Any]]:
    """prekey -> record dicts of a static tree ({} without a records file, or a broken one)."""
    path = root / RECORDS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        log.warning("%s is unreadable (%s); treating it as empty", path, error)
        return {}
    records = data.get("records") if isinstance(data, dict) else None
    return records if isinstance(records, dict) else {}


def static_root(url: str) -> Path | None:
    """The directory of a ``file:///DIR`` URL, None for other URLs."""
    parts = urlsplit(url)
    if parts.scheme != "file":
        return None
    if parts.netloc not in {"", "localhost"}:
        raise CacheUrlError.not_a_cache(url, "a file:// URL with a host")
    return Path(unquote(parts.path))


def open_source(url: str, *, token: str | None, token_env: str,
                timeout: float = 30.0) -> CacheSource:
    root = static_root(url)
    if root is not None:
        return StaticSource(root)
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise CacheUrlError.not_a_cache(redact(url), "a URL that is not http(s):// or file://")
    if parts.hostname == "anaconda.org" or parts.hostname.endswith(".anaconda.org"):
        raise CacheUrlError.not_a_cache(redact(url), "anaconda.org")
    source = HubSource(url, token=token, token_env=token_env, timeout=timeout)
    if not source.owner:
        raise CacheUrlError.not_a_cache(redact(url), "a hub URL without the owner")
    try:
        health = source.session.get(urls.health_url(source.base), timeout=timeout)
    except requests.RequestException as error:
        source._disable(f"unreachable ({type(error).__name__})")
        return source
    if health.status_code != 200 or health.text.strip() != "ok":
        raise CacheUrlError.not_a_cache(redact(url), "a package index that is not a wheelhub hub")
    return source


def open_sources(cache_from: Sequence[str], *, token: str | None,
                 token_env: str) -> list[CacheSource]:
    return [open_source(url, token=token, token_env=token_env) for url in cache_from]


# -- writing (wheelhub publish) --------------------------------------------------------------
def post_records(to: str, label: str, records: Sequence[CacheRecord], *, token: str | None,
                 timeout: float = 60.0) -> str:
    """Store *records* on the hub *to* under its owner; a line saying how it went."""
    base, owner = urls.split_owner_url(to)
    body = {"label": label, "records": [r.to_json() for r in records]}
    try:
        response = requests.post(urls.cache_records_url(base, owner), json=body, timeout=timeout,
                                 auth=("__token__", token) if token else None)
        response.raise_for_status()
        answer = response.json()
    except (requests.RequestException, ValueError) as error:
        return f"cache records not stored: {redact(str(error), [token or ''])[:160]}"
    refused = answer.get("refused") or []
    for line in refused:
        log.warning("cache record refused: %s", line)
    return f"cache records: {answer.get('stored', 0)} stored, {len(refused)} refused"


def write_static_records(root: Path, label: str, records: Sequence[CacheRecord]) -> str:
    """Merge *records* into the tree's records file (one per pre-key and key)."""
    merged = read_static_records(root)
    for record in records:
        kept = [r for r in merged.get(record.prekey, ())
                if not (isinstance(r, dict) and r.get("key") == record.key)]
        merged[record.prekey] = [{**record.to_json(), "label": label}, *kept]
    data = json.dumps({"format": RECORDS_FORMAT, "records": merged}, indent=1,
                      sort_keys=True).encode() + b"\n"
    path = root / RECORDS_FILE
    try:
        unchanged = path.read_bytes() == data
    except OSError:
        unchanged = False
    if not unchanged:  # like the pages: a publish that changes nothing rewrites nothing
        atomic_write_bytes(path, data)
    return f"cache records: {len(records)} in {path}"
