"""A small, strict ``multipart/form-data`` parser for upload requests (the body is in memory)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from wheelhub.server.errors import UploadRejected

_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_NAME = re.compile(rb'(?:^|;)\s*name="([^"]*)"', re.IGNORECASE)
_FILENAME = re.compile(rb'(?:^|;)\s*filename="([^"]*)"', re.IGNORECASE)


@dataclass(frozen=True, kw_only=True, slots=True)
class UploadedFile:
    filename: str
    data: bytes


@dataclass(frozen=True, kw_only=True, slots=True)
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)


def _bad(reason: str) -> UploadRejected:
    return UploadRejected(f"malformed upload request: {reason}",
                          hint="upload with twine (the legacy PyPI upload API)")


def parse_form(body: bytes, content_type: str) -> Form:
    if not content_type.lower().startswith("multipart/form-data"):
        raise _bad(f"expected multipart/form-data, got '{content_type or 'nothing'}'")
    match = _BOUNDARY.search(content_type)
    if not match:
        raise _bad("no multipart boundary")
    delimiter = b"--" + (match.group(1) or match.group(2)).encode("latin-1")
    if not body.startswith(delimiter):
        raise _bad("body does not start with the boundary")
    form = Form()
    for chunk in body[len(delimiter):].split(b"\r\n" + delimiter):
        if chunk.startswith(b"--"):
            break
        if not chunk.startswith(b"\r\n"):
            raise _bad("bad part delimiter")
        head, sep, content = chunk[2:].partition(b"\r\n\r\n")
        if not sep:
            raise _bad("part without headers")
        disposition = next((line.split(b":", 1)[1] for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-disposition:")), b"")
        name_match = _NAME.search(disposition)
        if not name_match:
            raise _bad("part without a name")
        name = name_match.group(1).decode("utf-8", "replace")
        file_match = _FILENAME.search(disposition)
        if file_match:
            form.files.setdefault(name, UploadedFile(
                filename=file_match.group(1).decode("utf-8", "replace"), data=content))
        else:
            form.fields.setdefault(name, content.decode("utf-8", "replace"))
    else:
        raise _bad("missing closing boundary")
    return form
