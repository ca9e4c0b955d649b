"""The simple repository API (PEP 503/592/629/658/691/700/714), both directions.

Rendering turns :class:`IndexFile` records into the HTML and JSON pages the hub stores
and the static target writes; parsing reads a project page (JSON or HTML) back, for the
index client and for the static target, whose JSON pages are its state. Links are
relative, so the same bytes work behind ``/t/<token>/`` and behind any proxy prefix.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.version import InvalidVersion, Version

from wheelhub.index.dists import parse_dist_filename
from wheelhub.index.errors import InvalidDistribution

API_VERSION = "1.1"
PEP_708_VERSION = "1.2"  # pages that carry tracks / alternate-locations
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
LATEST_JSON_TYPE = "application/vnd.pypi.simple.latest+json"
LATEST_HTML_TYPE = "application/vnd.pypi.simple.latest+html"
METADATA_SUFFIX = ".metadata"  # PEP 658: a file's core metadata is served at its URL + this
# What our clients ask for: JSON, else the PEP 503 HTML every index has.
ACCEPT = f"{JSON_TYPE}, {HTML_TYPE};q=0.2, text/html;q=0.1"


@dataclass(frozen=True, kw_only=True, slots=True)
class IndexFile:
    """One file as a project page lists it."""

    filename: str
    url: str  # relative to the project page
    sha256: str  # lower-case hex; "" when the index publishes none
    version: str = ""  # "" when the filename does not say
    size: int | None = None
    requires_python: str | None = None
    metadata_sha256: str | None = None  # PEP 658 metadata file, when there is one
    uploaded: float | None = None  # UNIX time
    yanked: str | None = None  # None: not yanked; "" yanked without a reason


@dataclass(frozen=True, kw_only=True, slots=True)
class RenderedPage:
    etag: str
    html: bytes
    json: bytes

    @property
    def html_gz(self) -> bytes:
        return gzip.compress(self.html, 6, mtime=0)

    @property
    def json_gz(self) -> bytes:
        return gzip.compress(self.json, 6, mtime=0)


def version_key(text: str) -> tuple[int, Version | str]:
    """Sort key for version strings: PEP 440 order, unparseable ones first."""
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


def upload_time(timestamp: float) -> str:
    """PEP 700's ``upload-time`` of a UNIX time."""
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- rendering ------------------------------------------------------------------------------
def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html>\n  <head>\n"
            f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
            f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
            f"    <h1>{html.escape(title)}</h1>\n{body}\n  </body>\n</html>\n")


def _finish(html_text: str, json_obj: object) -> RenderedPage:
    html_bytes = html_text.encode()
    json_bytes = json.dumps(json_obj, separators=(",", ":"), sort_keys=True).encode()
    digest = hashlib.sha256(html_bytes + b"\0" + json_bytes).hexdigest()[:32]
    return RenderedPage(etag=digest, html=html_bytes, json=json_bytes)


def render_index(projects: Iterable[tuple[str, str]]) -> RenderedPage:
    """The ``/simple/`` page for (normalized name, display name) pairs."""
    items = sorted(projects)
    links = "\n".join(f'    <a href="{html.escape(name)}/">{html.escape(display)}</a><br/>'
                      for name, display in items)
    data = {"meta": {"api-version": API_VERSION},
            "projects": [{"name": name} for name, _display in items]}
    return _finish(_page("Simple index", links), data)


def _anchor(file: IndexFile) -> str:
    attrs = [f'href="{html.escape(file.url)}#sha256={file.sha256}"']
    if file.requires_python:
        attrs.append(f'data-requires-python="{html.escape(file.requires_python)}"')
    if file.yanked is not None:
        attrs.append(f'data-yanked="{html.escape(file.yanked)}"')
    if file.metadata_sha256 is not None:
        attrs.append(f'data-dist-info-metadata="sha256={file.metadata_sha256}"')
        attrs.append(f'data-core-metadata="sha256={file.metadata_sha256}"')
    return f"    <a {' '.join(attrs)}>{html.escape(file.filename)}</a><br/>"


def _json_entry(file: IndexFile) -> dict[str, object]:
    entry: dict[str, object] = {
        "filename": file.filename,
        "url": file.url,
        "hashes": {"sha256": file.sha256},
        "requires-python": file.requires_python,
        "yanked": False if file.yanked is None else (file.yanked or True),
    }
    if file.size is not None:
        entry["size"] = file.size
    if file.uploaded is not None:
        entry["upload-time"] = upload_time(file.uploaded)
    if file.metadata_sha256 is not None:
        entry["core-metadata"] = entry["dist-info-metadata"] = {"sha256": file.metadata_sha256}
    return entry


def render_project(project: str, files: Iterable[IndexFile], *, tracks: Sequence[str] = (),
                   alternate_locations: Sequence[str] = ()) -> RenderedPage:
    """The ``/simple/<project>/`` page: *files* in version order, then by filename.

    *tracks* and *alternate_locations* are PEP 708's: the upstream project pages this
    page mirrors, and the pages whose files installers may treat as the same project.
    """
    ordered = sorted(files, key=lambda f: (version_key(f.version), f.filename))
    versions = sorted({f.version for f in ordered if f.version}, key=version_key)
    metas = "".join(f'    <meta name="pypi:{key}" content="{html.escape(url)}">\n'
                    for key, values in (("tracks", tracks),
                                        ("alternate-locations", alternate_locations))
                    for url in values)
    page = _page(f"Links for {project}", "\n".join(_anchor(f) for f in ordered))
    data: dict[str, object] = {"meta": {"api-version": API_VERSION}, "name": project,
                               "versions": versions, "files": [_json_entry(f) for f in ordered]}
    if metas:
        page = page.replace(f'content="{API_VERSION}">', f'content="{PEP_708_VERSION}">\n'
                            + metas.rstrip("\n"), 1)
        data["meta"] = {"api-version": PEP_708_VERSION}
        data.update({key: list(values) for key, values in (
            ("tracks", tracks), ("alternate-locations", alternate_locations)) if values})
    return _finish(page, data)


def dump_files(files: Iterable[IndexFile]) -> str:
    """*files* as the JSON list a PEP 691 page holds (what :func:`load_files` reads)."""
    return json.dumps([_json_entry(f) for f in files], separators=(",", ":"))


def load_files(text: str) -> list[IndexFile]:
    return [_from_json(entry) for entry in json.loads(text)]


# -- parsing --------------------------------------------------------------------------------
def parse_index(body: bytes) -> list[str]:
    """The project names of a JSON ``/simple/`` page."""
    return [str(project["name"]) for project in json.loads(body)["projects"]]


def parse_project(body: bytes, content_type: str) -> list[IndexFile]:
    """The files of a project page, PEP 691 JSON or PEP 503 HTML by *content_type*.

    Raises ValueError, KeyError or TypeError for a page that is neither.
    """
    if "json" in content_type:
        return [_from_json(entry) for entry in json.loads(body)["files"]]
    anchors = _Anchors()
    anchors.feed(body.decode("utf-8", errors="replace"))
    return anchors.files


def _version_of(filename: str) -> str:
    try:
        return str(parse_dist_filename(filename).version)
    except InvalidDistribution:
        return ""


def _timestamp(text: object) -> float | None:
    """PEP 700's ``upload-time`` as a UNIX time; None when absent or not ISO 8601."""
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _from_json(entry: Mapping[str, Any]) -> IndexFile:
    filename = str(entry["filename"])
    metadata = entry.get("core-metadata", entry.get("dist-info-metadata"))
    yanked = entry.get("yanked", False)
    return IndexFile(
        filename=filename, url=str(entry.get("url", "")),
        sha256=str((entry.get("hashes") or {}).get("sha256", "")).lower(),
        version=_version_of(filename), size=entry.get("size"),
        requires_python=entry.get("requires-python"),
        metadata_sha256=metadata.get("sha256") if isinstance(metadata, dict) else None,
        uploaded=_timestamp(entry.get("upload-time")),
        yanked=None if yanked is False else ("" if yanked is True else str(yanked)))


class _Anchors(HTMLParser):
    """The file links of a PEP 503 project page."""

    def __init__(self) -> None:
        super().__init__()
        self.files: list[IndexFile] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        href = values.get("href") if tag == "a" else None
        if not href:
            return
        url, _, fragment = href.partition("#")
        filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        algorithm, _, digest = fragment.partition("=")
        metadata = values.get("data-core-metadata") or values.get("data-dist-info-metadata")
        self.files.append(IndexFile(
            filename=filename, url=url,
            sha256=digest.lower() if algorithm == "sha256" else "",
            version=_version_of(filename),
            requires_python=values.get("data-requires-python") or None,
            metadata_sha256=metadata.removeprefix("sha256=")
            if metadata and metadata.startswith("sha256=") else None,
            yanked=(values["data-yanked"] or "") if "data-yanked" in values else None))
