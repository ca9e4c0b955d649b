"""Render the simple repository API (PEP 503/592/629/658/691/700/714) as HTML and JSON.

Pure functions from file records to bytes. Pages are rendered when a label changes
and stored, so serving one is a lookup. URLs are relative (``../../files/<name>``), so
the same bytes work behind ``/t/<token>/`` and behind any proxy prefix.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from wheelhub.server.storage import FileRecord

API_VERSION = "1.1"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"


@dataclass(frozen=True, kw_only=True, slots=True)
class RenderedPage:
    etag: str
    html: bytes
    html_gz: bytes
    json: bytes
    json_gz: bytes


def upload_time(timestamp: float) -> str:
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _version_key(text: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


def _finish(html_text: str, json_obj: object) -> RenderedPage:
    html_bytes = html_text.encode()
    json_bytes = json.dumps(json_obj, separators=(",", ":"), sort_keys=True).encode()
    digest = hashlib.sha256(html_bytes + b"\0" + json_bytes).hexdigest()[:32]
    return RenderedPage(etag=digest, html=html_bytes, json=json_bytes,
                        html_gz=gzip.compress(html_bytes, 6, mtime=0),
                        json_gz=gzip.compress(json_bytes, 6, mtime=0))


def render_index(projects: Iterable[tuple[str, str]]) -> RenderedPage:
    """The ``/simple/`` page for (normalized name, display name) pairs."""
    items = sorted(projects)
    links = "\n".join(f'    <a href="{name}/">{html.escape(display)}</a><br/>'
                      for name, display in items)
    page = ("<!DOCTYPE html>\n<html>\n  <head>\n"
            f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
            "    <title>Simple index</title>\n  </head>\n  <body>\n"
            f"{links}\n  </body>\n</html>\n")
    data = {"meta": {"api-version": API_VERSION},
            "projects": [{"name": name} for name, _display in items]}
    return _finish(page, data)


def _file_url(record: FileRecord) -> str:
    return f"../../files/{record.filename}"


def render_project(project: str, files: Sequence[FileRecord]) -> RenderedPage:
    """The ``/simple/<project>/`` page; *files* are that project's files in one label."""
    ordered = sorted(files, key=lambda r: (_version_key(r.version), r.filename))
    versions = sorted({r.version for r in ordered}, key=_version_key)
    anchors = []
    json_files = []
    for record in ordered:
        url = _file_url(record)
        attrs = [f'href="{html.escape(url)}#sha256={record.sha256}"']
        if record.requires_python:
            attrs.append(f'data-requires-python="{html.escape(record.requires_python)}"')
        if record.yanked is not None:
            attrs.append(f'data-yanked="{html.escape(record.yanked)}"')
        attrs.append(f'data-dist-info-metadata="sha256={record.metadata_sha256}"')
        attrs.append(f'data-core-metadata="sha256={record.metadata_sha256}"')
        anchors.append(f"    <a {' '.join(attrs)}>{html.escape(record.filename)}</a><br/>")
        entry: dict[str, object] = {
            "filename": record.filename,
            "url": url,
            "hashes": {"sha256": record.sha256},
            "requires-python": record.requires_python,
            "size": record.size,
            "upload-time": upload_time(record.uploaded),
            "core-metadata": {"sha256": record.metadata_sha256},
            "dist-info-metadata": {"sha256": record.metadata_sha256},
            "yanked": False if record.yanked is None else (record.yanked or True),
        }
        json_files.append(entry)
    page = ("<!DOCTYPE html>\n<html>\n  <head>\n"
            f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
            f"    <title>Links for {html.escape(project)}</title>\n  </head>\n  <body>\n"
            f"    <h1>Links for {html.escape(project)}</h1>\n"
            + "\n".join(anchors) + "\n  </body>\n</html>\n")
    data = {"meta": {"api-version": API_VERSION}, "name": project,
            "versions": versions, "files": json_files}
    return _finish(page, data)
