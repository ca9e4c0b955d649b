"""A label as a tar file: a static PEP 503/691 tree plus the records to import it exactly.

Layout inside the tar (the static target's shape, one label)::

    simple/index.html|json                  the project list
    simple/<project>/index.html|json        each project's files (yanks kept)
    files/<filename>                        the archives
    files/<filename>.metadata               core metadata (PEP 658 where it is static)
    wheelhub-archive.json                   every file's record: sha256, size, yank,
                                            upload time, provenance and test verdict

Unpacked, pip installs from it with ``--index-url file:///DIR/simple/`` or
``--find-links DIR/files``. :func:`read_archive` checks every file against the record's
sha256 and size before anything is imported.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wheelhub.index.dists import parse_dist_filename
from wheelhub.index.errors import InvalidDistribution
from wheelhub.index.simple import METADATA_SUFFIX, RenderedPage, render_index, render_project
from wheelhub.server.errors import ArchiveInvalid
from wheelhub.server.storage import FileRecord, ImportItem, NewFile, Provenance, Storage

RECORDS = "wheelhub-archive.json"
FORMAT = 1
_FIELDS = tuple(f.name for f in dataclasses.fields(FileRecord))


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _add_page(tar: tarfile.TarFile, directory: str, page: RenderedPage, mtime: float) -> None:
    _add_bytes(tar, f"{directory}/index.html", page.html, mtime)
    _add_bytes(tar, f"{directory}/index.json", page.json, mtime)


def write_archive(storage: Storage, owner: str, label: str, out: Path) -> int:
    """Write *owner*/*label* to the tar file *out*; the number of files."""
    records = storage.list_files(owner, label)
    provenance = storage.provenance(owner, label)
    now = time.time()
    entries = []
    metadata: dict[str, bytes] = {}
    for record in records:
        # Dynamic sdist metadata too: not served, still kept.
        metadata[record.filename] = storage.core_metadata(owner, label, record.filename,
                                                          served=False) or b""
        entry = {key: getattr(record, key) for key in _FIELDS}
        entry["core_metadata_sha256"] = hashlib.sha256(metadata[record.filename]).hexdigest()
        entry["provenance"] = provenance[record.filename].to_json() \
            if record.filename in provenance else None
        entries.append(entry)
    projects: dict[str, list[FileRecord]] = {}
    for record in records:
        projects.setdefault(record.project, []).append(record)
    pages = {f"simple/{project}": render_project(project, [r.index_file() for r in files])
             for project, files in sorted(projects.items())}
    pages["simple"] = render_index((p, files[0].display_name)
                                   for p, files in sorted(projects.items()))
    page_digests = {f"{directory}/index.{kind}": hashlib.sha256(body).hexdigest()
                    for directory, page in pages.items()
                    for kind, body in (("html", page.html), ("json", page.json))}
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        # The records first: a truncated archive then lacks members they list.
        _add_bytes(tar, RECORDS, json.dumps(
            {"format": FORMAT, "owner": owner, "label": label, "created": now,
             "files": entries, "pages": page_digests}, indent=1, sort_keys=True).encode(), now)
        for record in records:
            tar.add(storage.blob_path(record.sha256), arcname=f"files/{record.filename}",
                    recursive=False)
            _add_bytes(tar, f"files/{record.filename}{METADATA_SUFFIX}",
                       metadata[record.filename], record.uploaded)
        for directory, page in pages.items():
            _add_page(tar, directory, page, now)
    return len(records)


@contextlib.contextmanager
def read_archive(storage: Storage, path: Path, source: str) -> Iterator[list[ImportItem]]:
    """The verified files of the archive at *path*, as temp files of *storage* (removed on
    exit unless an import moved them into place)."""
    temps: list[Path] = []
    try:
        yield _read(storage, path, source, temps)
    finally:
        for temp in temps:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()


def _read(storage: Storage, path: Path, source: str, temps: list[Path]) -> list[ImportItem]:
    try:
        with tarfile.open(path, "r:") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            if RECORDS not in members:
                raise ArchiveInvalid.because(source, f"no {RECORDS}: not a label archive")
            index = json.loads(_member(tar, members, RECORDS))
            if not isinstance(index, dict) or index.get("format") != FORMAT:
                raise ArchiveInvalid.because(source, f"unknown archive format in {RECORDS}")
            for name, digest in dict(index.get("pages", {})).items():
                if name not in members:
                    raise ArchiveInvalid.because(source, f"truncated or damaged: '{name}' is "
                                                 "listed but missing")
                if hashlib.sha256(_member(tar, members, name)).hexdigest() != digest:
                    raise ArchiveInvalid.because(source, f"'{name}' does not match its recorded "
                                                 "sha256 (edited or damaged)")
            return [_item(tar, members, entry, storage, source, temps)
                    for entry in index.get("files", [])]
    except (tarfile.TarError, EOFError, OSError, ValueError, KeyError, TypeError) as error:
        if isinstance(error, ArchiveInvalid):
            raise
        raise ArchiveInvalid.because(source, f"truncated or damaged ({error})") from None


def _member(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str) -> bytes:
    handle = tar.extractfile(members[name])
    if handle is None:
        raise KeyError(name)
    return handle.read()


def _item(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], entry: dict[str, object],
          storage: Storage, source: str, temps: list[Path]) -> ImportItem:
    filename = str(entry["filename"])
    try:
        parse_dist_filename(filename)
    except InvalidDistribution as error:
        raise ArchiveInvalid.because(source, f"'{filename}': {error.reason}") from None
    name = f"files/{filename}"
    if name not in members or name + METADATA_SUFFIX not in members:
        raise ArchiveInvalid.because(source, f"truncated or damaged: '{name}' is listed but "
                                     "missing")
    handle, temp = storage.temp_file()
    temps.append(temp)
    digest = hashlib.sha256()
    size = 0
    with handle:
        reader = tar.extractfile(members[name])
        assert reader is not None  # a regular file member
        while chunk := reader.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
            handle.write(chunk)
    if digest.hexdigest() != entry["sha256"] or size != entry["size"]:
        raise ArchiveInvalid.because(source, f"'{filename}' does not match its recorded "
                                     "sha256 (edited or damaged)")
    metadata = _member(tar, members, name + METADATA_SUFFIX)
    if hashlib.sha256(metadata).hexdigest() != entry.get("core_metadata_sha256"):
        raise ArchiveInvalid.because(source, f"the metadata of '{filename}' does not match "
                                     "its recorded sha256")
    fields: dict[str, Any] = {key: entry[key] for key in _FIELDS}
    for key in ("python_tags", "platform_tags"):
        fields[key] = tuple(str(tag) for tag in fields[key])
    record = FileRecord(**fields)
    provenance = None if entry.get("provenance") is None \
        else Provenance.from_json(entry["provenance"])
    return ImportItem(new=NewFile(record=record, metadata=metadata, path=temp,
                                  provenance=provenance),
                      yanked=record.yanked, added=record.uploaded)
