"""Distribution files: what a wheel or sdist filename says, and its core metadata.

:func:`read_core_metadata` checks a file from a stranger (a hub upload) and is bounded
everywhere: member counts, declared sizes, compression ratios and the bytes actually
read, so a zip bomb or a tar bomb is refused instead of expanded. :func:`wheel_metadata`
reads a wheel we built ourselves (the static target) the same way, without the checks.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from wheelhub.index.errors import InvalidDistribution


@dataclass(frozen=True, kw_only=True, slots=True)
class DistName:
    """What an uploaded filename says about itself."""

    filename: str
    project: NormalizedName
    version: Version
    kind: str  # "bdist_wheel" or "sdist"
    python_tags: tuple[str, ...]
    platform_tags: tuple[str, ...]


def parse_dist_filename(filename: str) -> DistName:
    """Parse a wheel or sdist filename, refusing anything that is not a plain file name."""
    if (not filename or "/" in filename or "\\" in filename or "\x00" in filename
            or filename.startswith(".") or ".." in filename or len(filename) > 255):
        raise InvalidDistribution(filename.replace("\x00", "\\0"),
                                  "the filename must be a plain file name")
    try:
        if filename.endswith(".whl"):
            name, version, _build, tags = parse_wheel_filename(filename)
            return DistName(filename=filename, project=name, version=version, kind="bdist_wheel",
                            python_tags=tuple(sorted({t.interpreter for t in tags})),
                            platform_tags=tuple(sorted({t.platform for t in tags})))
        name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename) as error:
        raise InvalidDistribution(filename, f"not a valid wheel or sdist filename ({error})") \
            from error
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


def read_core_metadata(data: bytes, dist: DistName, *, max_unpacked: int) -> CoreMetadata:
    """Validate the archive *data* named by *dist* and return its core metadata."""
    if dist.kind == "bdist_wheel" or dist.filename.endswith(".zip"):
        raw = _from_zip(data, dist, max_unpacked=max_unpacked)
    else:
        raw = _from_tar(data, dist, max_unpacked=max_unpacked)
    return parse_core_metadata(raw, dist)


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
    """The archive member holding the core metadata: the one top-level METADATA or PKG-INFO."""
    if dist.kind == "bdist_wheel":
        wanted = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if len(wanted) != 1:
            raise _reject(dist, "no single top-level *.dist-info/METADATA in the wheel")
        if wanted[0].split("/")[0] + "/WHEEL" not in names:
            raise _reject(dist, "the wheel has no .dist-info/WHEEL file")
        return wanted[0]
    wanted = [n for n in names if n.count("/") == 1 and n.endswith("/PKG-INFO")]
    if not wanted:
        raise _reject(dist, "no top-level PKG-INFO in the sdist")
    return wanted[0]


def _from_zip(data: bytes, dist: DistName, *, max_unpacked: int) -> bytes:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise _reject(dist, f"not a readable zip archive ({error})") from error
    if len(infos) > MAX_MEMBERS:
        raise _reject(dist, f"more than {MAX_MEMBERS} members")
    unpacked = sum(info.file_size for info in infos)
    if unpacked > max_unpacked or unpacked > MAX_RATIO * max(len(data), 1) + 1024 * 1024:
        raise _reject(dist, f"unpacks to {unpacked} bytes: refusing a likely zip bomb")
    names = {info.filename: info for info in infos}
    info = names[_metadata_member(names.keys(), dist)]
    if info.file_size > MAX_METADATA_BYTES:
        raise _reject(dist, "core metadata is too large")
    try:
        with archive.open(info) as handle:
            raw = handle.read(MAX_METADATA_BYTES + 1)
        # Test every member's CRC, bounded by the size check above.
        bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as error:
        raise _reject(dist, f"corrupt zip archive ({error})") from error
    if bad is not None:
        raise _reject(dist, f"corrupt member '{bad}' in the zip archive")
    return raw


def _from_tar(data: bytes, dist: DistName, *, max_unpacked: int) -> bytes:
    raw: bytes | None = None
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for count, member in enumerate(archive):
                total += member.size
                if count > MAX_MEMBERS or total > max_unpacked:
                    raise _reject(dist, "the sdist unpacks too large: refusing a likely tar bomb")
                parts = member.name.split("/")
                if raw is None and len(parts) == 2 and parts[1] == "PKG-INFO" and member.isfile():
                    if member.size > MAX_METADATA_BYTES:
                        raise _reject(dist, "core metadata is too large")
                    handle = archive.extractfile(member)
                    if handle is not None:
                        raw = handle.read()
    except (tarfile.TarError, OSError, EOFError, ValueError) as error:
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
                        summary=str(summary).strip() if summary else None)
