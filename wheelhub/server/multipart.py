"""A small, strict, streaming ``multipart/form-data`` parser for upload requests.

The body is fed chunk by chunk as it arrives: form fields stay in memory (bounded), the
file part goes straight to a file on disk, so a 200 MB upload never sits in memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from wheelhub.server.errors import UploadRejected

_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_NAME = re.compile(rb'(?:^|;)\s*name="([^"]*)"', re.IGNORECASE)
_FILENAME = re.compile(rb'(?:^|;)\s*filename="([^"]*)"', re.IGNORECASE)
MAX_HEADER_BYTES = 16 * 1024  # one part's headers
MAX_FIELD_BYTES = 8 * 1024 * 1024  # all text fields together (twine sends the long description)
MAX_PARTS = 1000


@dataclass(frozen=True, kw_only=True, slots=True)
class UploadedFile:
    filename: str
    path: Path  # the part's bytes, on disk
    size: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)


def _bad(reason: str) -> UploadRejected:
    return UploadRejected(f"malformed upload request: {reason}",
                          hint="upload with twine (the legacy PyPI upload API)")


def boundary_of(content_type: str) -> bytes:
    if not content_type.lower().startswith("multipart/form-data"):
        raise _bad(f"expected multipart/form-data, got '{content_type or 'nothing'}'")
    match = _BOUNDARY.search(content_type)
    if not match:
        raise _bad("no multipart boundary")
    return (match.group(1) or match.group(2)).encode("latin-1")


class FormParser:
    """Feed body chunks, then :meth:`finish` for the :class:`Form`.

    The first file part is written to the file *new_file* returns; later file parts under
    the same name are ignored, as are repeated fields (the first one counts).
    """

    def __init__(self, content_type: str, new_file: Callable[[], tuple[BinaryIO, Path]]) -> None:
        # The stream is read as if it began with CRLF, so every delimiter looks the same.
        self._delimiter = b"\r\n--" + boundary_of(content_type)
        self._buffer = b"\r\n"
        self._new_file = new_file
        self._state = "delimiter"  # -> "headers" -> "content" -> "delimiter" ... -> "done"
        self._part: tuple[str, str | None] = ("", None)  # name, filename
        self._text: list[bytes] = []
        self._sink: BinaryIO | None = None
        self._sink_path: Path | None = None
        self._sink_size = 0
        self._field_bytes = 0
        self._parts = 0
        self.form = Form()

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while self._step():
            pass

    def finish(self) -> Form:
        if self._state != "done":
            raise _bad("missing closing boundary")
        return self.form

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
            self._sink = None

    def _step(self) -> bool:
        """Advance one state if the buffer allows; False when it needs more bytes."""
        if self._state == "delimiter":
            if len(self._buffer) < len(self._delimiter) + 2:
                return False
            if not self._buffer.startswith(self._delimiter):
                raise _bad("body does not start with the boundary")
            after = self._buffer[len(self._delimiter):len(self._delimiter) + 2]
            self._buffer = self._buffer[len(self._delimiter) + 2:]
            if after == b"--":
                self._state, self._buffer = "done", b""
                return False
            if after != b"\r\n":
                raise _bad("bad part delimiter")
            self._state = "headers"
            return True
        if self._state == "headers":
            head, sep, rest = self._buffer.partition(b"\r\n\r\n")
            if not sep:
                if len(self._buffer) > MAX_HEADER_BYTES:
                    raise _bad("part headers too long")
                return False
            self._start_part(head)
            self._buffer, self._state = rest, "content"
            return True
        if self._state == "content":
            index = self._buffer.find(self._delimiter)
            if index < 0:
                keep = len(self._delimiter) - 1  # a delimiter may straddle two chunks
                if len(self._buffer) > keep:
                    self._content(self._buffer[:-keep])
                    self._buffer = self._buffer[-keep:]
                return False
            self._content(self._buffer[:index])
            self._end_part()
            self._buffer, self._state = self._buffer[index:], "delimiter"
            return True
        self._buffer = b""  # an epilogue after the closing boundary is ignored
        return False

    def _start_part(self, head: bytes) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise _bad(f"more than {MAX_PARTS} parts")
        disposition = next((line.split(b":", 1)[1] for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-disposition:")), b"")
        name_match = _NAME.search(disposition)
        if not name_match:
            raise _bad("part without a name")
        name = name_match.group(1).decode("utf-8", "replace")
        file_match = _FILENAME.search(disposition)
        filename = file_match.group(1).decode("utf-8", "replace") if file_match else None
        self._part = (name, filename)
        if filename is not None and name not in self.form.files and self._sink is None:
            self._sink, self._sink_path = self._new_file()
            self._sink_size = 0

    def _content(self, data: bytes) -> None:
        if not data:
            return
        if self._sink is not None:
            self._sink.write(data)
            self._sink_size += len(data)
        elif self._part[1] is None:
            self._field_bytes += len(data)
            if self._field_bytes > MAX_FIELD_BYTES:
                raise _bad(f"form fields larger than {MAX_FIELD_BYTES} bytes")
            self._text.append(data)

    def _end_part(self) -> None:
        name, filename = self._part
        if self._sink is not None and self._sink_path is not None and filename is not None:
            self._sink.close()
            self._sink = None
            self.form.files[name] = UploadedFile(filename=filename, path=self._sink_path,
                                                 size=self._sink_size)
        elif filename is None:
            self.form.fields.setdefault(name, b"".join(self._text).decode("utf-8", "replace"))
        self._text = []
