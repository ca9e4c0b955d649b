"""Distribution files: what a wheel or sdist filename says, and its core metadata.

:func:`read_core_metadata` checks a file from a stranger (a hub upload) and is bounded
everywhere: member counts, declared sizes, compression ratios and the bytes actually
read, so a zip bomb or a tar bomb is refused instead of expanded. :func:`wheel_metadata`
reads a wheel we built ourselves (the static target) the same way, without the checks.
"""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from wheelhub.index.errors import InvalidDistribution, InvalidName
from wheelhub.index.names import check_project

# What a damaged archive raises from the zip/tar/zlib readers (a flipped byte), beyond
# their own error classes: all of them mean "not a readable archive", a 400.
_ARCHIVE_ERRORS = (zipfile.BadZipFile, tarfile.TarError, zlib.error, struct.error, OSError,
                   EOFError, ValueError, NotImplementedError, RuntimeError, LookupError,
                   OverflowError)


@dataclass(frozen=True, kw_only=True, slots=True)
class DistName:
    """What an uploaded filename says about itself."""

    filename: str
    project: NormalizedName
    version: Version
    kind: str  # "bdist_wheel" or "sdist"
    python_tags: tuple[str, ...]
    platform_tags: tuple[str, ...]
    build: str = ""  # a wheel's build tag, "" for none
    tags: str = ""  # a wheel's tag triple, each part sorted: "py2.py3-none-any"

    @property
    def identity(self) -> tuple[str, ...]:
        """What makes two files one release file, whatever their spelling: the name, the
        version as PEP 440 compares it (``1.17`` is ``1.17.0``), and a wheel's build tag and
        tags; a release has one sdist, whatever its archive format."""
        version = canonicalize_version(self.version, strip_trailing_zero=True)
        return (self.kind, self.project, version, self.build, self.tags)

    @property
    def normalized_filename(self) -> str:
        """The one spelling of this file (``Six-1.17.0-…`` and ``six-1.17.0-…`` are one file):
        normalized name and version, sorted tags; what the hub stores and serves."""
        stem = f"{self.project.replace('-', '_')}-{self.version}"
        if self.kind == "sdist":
            return stem + (".zip" if self.filename.endswith(".zip") else ".tar.gz")
        build = f"-{self.build}" if self.build else ""
        return f"{stem}{build}-{self.tags}.whl"


def parse_dist_filename(filename: str) -> DistName:
    """Parse a wheel or sdist filename, refusing anything that is not a plain file name
    or whose project name is not a valid one (PEP 508)."""
    if (not filename or "/" in filename or "\\" in filename or "\x00" in filename
            or filename.startswith(".") or ".." in filename or len(filename) > 255):
        raise InvalidDistribution(filename.replace("\x00", "\\0"),
                                  "the filename must be a plain file name")
    try:
        if filename.endswith(".whl"):
            name, version, build, tags = parse_wheel_filename(filename)
            check_project(filename.split("-", 1)[0])
            triple = "-".join(".".join(sorted({getattr(t, part) for t in tags}))
                              for part in ("interpreter", "abi", "platform"))
            return DistName(filename=filename, project=name, version=version, kind="bdist_wheel",
                            python_tags=tuple(sorted({t.interpreter for t in tags})),
                            platform_tags=tuple(sorted({t.platform for t in tags})),
                            build="".join(str(part) for part in build), tags=triple)
        name, version = parse_sdist_filename(filename)
        check_project(filename.rsplit("-", 1)[0])
    except (InvalidWheelFilename, InvalidSdistFilename) as error:
        raise InvalidDistribution(filename, f"not a valid wheel or sdist filename ({error})") \
            from error
    except InvalidName as error:
        raise InvalidDistribution(filename, f"{error.message} ({error.hint})") from error
    return DistName(filename=filename, project=name, version=version, kind="sdist",
                    python_tags=("source",), platform_tags=("any",))


MAX_MEMBERS = 100_000
MAX_METADATA_BYTES = 4 * 1024 * 1024
MAX_RATIO = 200  # uncompressed/compressed, over the whole archive


@dataclass(frozen=True, kw_only=True, slots=True)
class CoreMetadata:
    raw: bytes  # METADATA / PKG-INFO exactly as in the archive: served as the .metadata file
    name: str
    version: str
    requires_python: str | None
    summary: str | None
    # PEP 658: may an installer trust this as the file's metadata? Always for a wheel; for
    # an sdist only from Metadata-Version 2.2 on, with dependencies not marked Dynamic.
    static: bool = True


def read_core_metadata(data: bytes | Path, dist: DistName, *, max_unpacked: int) -> CoreMetadata:
    """Validate the archive named by *dist* (its bytes, or a file) and return its core metadata."""
    if dist.kind == "bdist_wheel" or dist.filename.endswith(".zip"):
        raw = _from_zip(data, dist, max_unpacked=max_unpacked)
    else:
        raw = _from_tar(data, dist, max_unpacked=max_unpacked)
    return parse_core_metadata(raw, dist)


def _open(data: bytes | Path) -> tuple[io.BufferedIOBase, int]:
    if isinstance(data, Path):
        return data.open("rb"), data.stat().st_size
    return io.BytesIO(data), len(data)


def wheel_metadata(path: Path) -> CoreMetadata:
    """The core metadata of a wheel of our own on disk (no bomb checks: we built it)."""
    dist = parse_dist_filename(path.name)
    try:
        with zipfile.ZipFile(path) as archive:
            raw = archive.read(_metadata_member(archive.namelist(), dist))
    except (zipfile.BadZipFile, OSError, KeyError) as error:
        raise _reject(dist, f"not a readable wheel ({error})") from error
    return parse_core_metadata(raw, dist)


def _reject(dist: DistName, reason: str) -> InvalidDistribution:
    return InvalidDistribution(dist.filename, reason)


def _metadata_member(names: Collection[str], dist: DistName) -> str:
    """The archive member holding the core metadata: the one top-level METADATA or PKG-INFO;
    a wheel's ``.dist-info`` folder must be named for the wheel's own name and version."""
    if dist.kind == "bdist_wheel":
        wanted = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if len(wanted) != 1:
            raise _reject(dist, "no single top-level *.dist-info/METADATA in the wheel")
        folder = wanted[0].split("/")[0]
        if folder + "/WHEEL" not in names:
            raise _reject(dist, "the wheel has no .dist-info/WHEEL file")
        name, _, version = folder.removesuffix(".dist-info").rpartition("-")
        try:
            matches = canonicalize_name(name) == dist.project and Version(version) == dist.version
        except InvalidVersion:
            matches = False
        if not matches:
            raise _reject(dist, f"its metadata folder '{folder}' does not match the filename "
                                f"(expected '{dist.project.replace('-', '_')}-{dist.version}"
                                ".dist-info')")
        return wanted[0]
    wanted = [n for n in names if n.count("/") == 1 and n.endswith("/PKG-INFO")]
    if not wanted:
        raise _reject(dist, "no top-level PKG-INFO in the sdist")
    return wanted[0]


def _from_zip(data: bytes | Path, dist: DistName, *, max_unpacked: int) -> bytes:
    handle, size = _open(data)
    with handle:
        try:
            archive = zipfile.ZipFile(handle)
            infos = archive.infolist()
        except _ARCHIVE_ERRORS as error:
            raise _reject(dist, f"not a readable zip archive ({error})") from error
        if len(infos) > MAX_MEMBERS:
            raise _reject(dist, f"more than {MAX_MEMBERS} members")
        unpacked = sum(info.file_size for info in infos)
        if unpacked > max_unpacked or unpacked > MAX_RATIO * max(size, 1) + 1024 * 1024:
            raise _reject(dist, f"unpacks to {unpacked} bytes: refusing a likely zip bomb")
        names = {info.filename: info for info in infos}
        info = names[_metadata_member(names.keys(), dist)]
        if info.file_size > MAX_METADATA_BYTES:
            raise _reject(dist, "core metadata is too large")
        try:
            with archive.open(info) as member:
                raw = member.read(MAX_METADATA_BYTES + 1)
            # Test every member's CRC, bounded by the size check above.
            bad = archive.testzip()
        except _ARCHIVE_ERRORS as error:
            raise _reject(dist, f"corrupt zip archive ({error})") from error
    if bad is not None:
        raise _reject(dist, f"corrupt member '{bad}' in the zip archive")
    return raw


def _from_tar(data: bytes | Path, dist: DistName, *, max_unpacked: int) -> bytes:
    raw: bytes | None = None
    total = 0
    handle, _size = _open(data)
    try:
        with handle, tarfile.open(fileobj=handle, mode="r:gz") as archive:
            for count, member in enumerate(archive):
                total += member.size
                if count > MAX_MEMBERS or total > max_unpacked:
                    raise _reject(dist, "the sdist unpacks too large: refusing a likely tar bomb")
                parts = member.name.split("/")
                if raw is None and len(parts) == 2 and parts[1] == "PKG-INFO" and member.isfile():
                    if member.size > MAX_METADATA_BYTES:
                        raise _reject(dist, "core metadata is too large")
                    extracted = archive.extractfile(member)
                    if extracted is not None:
                        raw = extracted.read()
    except _ARCHIVE_ERRORS as error:
        raise _reject(dist, f"not a readable .tar.gz archive ({error})") from error
    if raw is None:
        raise _reject(dist, "no top-level PKG-INFO in the sdist")
    return raw


def parse_core_metadata(raw: bytes, dist: DistName) -> CoreMetadata:
    """The fields we use from METADATA/PKG-INFO *raw*, which must name *dist* itself."""
    headers = BytesHeaderParser().parsebytes(raw)
    name = headers.get("Name")
    version = headers.get("Version")
    if not name or not version:
        raise _reject(dist, "core metadata lacks Name or Version")
    try:
        check_project(str(name))
    except InvalidName as error:
        raise _reject(dist, f"metadata {error.message} ({error.hint})") from error
    if canonicalize_name(str(name)) != dist.project:
        raise _reject(dist, f"metadata Name '{name}' does not match the filename "
                            f"('{dist.project}')")
    try:
        parsed = Version(str(version))
    except InvalidVersion as error:
        raise _reject(dist, f"metadata Version '{version}' is invalid") from error
    if parsed != dist.version:
        raise _reject(dist, f"metadata Version '{version}' does not match the filename "
                            f"('{dist.version}')")
    requires_python = headers.get("Requires-Python")
    summary = headers.get("Summary")
    return CoreMetadata(raw=raw, name=str(name), version=str(version),
                        requires_python=str(requires_python).strip() if requires_python else None,
                        summary=str(summary).strip() if summary else None,
                        static=dist.kind == "bdist_wheel" or _static_sdist(headers))


def _static_sdist(headers: Message) -> bool:
    """PEP 643: sdist metadata is reliable from Metadata-Version 2.2, except fields it
    marks Dynamic; an installer needs Requires-Dist and Requires-Python."""
    try:
        if Version(str(headers.get("Metadata-Version", "1.0")).strip()) < Version("2.2"):
            return False
    except InvalidVersion:
        return False
    dynamic = {str(field).strip().lower() for field in headers.get_all("Dynamic") or []}
    return not dynamic & {"requires-dist", "requires-python"}
