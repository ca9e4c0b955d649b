"""Check that an upload is a readable wheel or sdist and pull its core metadata out of it.

Bounded everywhere: member counts, declared sizes, compression ratios and the bytes
actually read, so a zip bomb or a tar bomb is refused instead of expanded.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from dataclasses import dataclass
from email.parser import BytesHeaderParser

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from wheelhub.server.errors import UploadRejected


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
        raise UploadRejected.because(filename.replace("\x00", "\\0"),
                                     "the filename must be a plain file name")
    try:
        if filename.endswith(".whl"):
            name, version, _build, tags = parse_wheel_filename(filename)
            return DistName(filename=filename, project=name, version=version, kind="bdist_wheel",
                            python_tags=tuple(sorted({t.interpreter for t in tags})),
                            platform_tags=tuple(sorted({t.platform for t in tags})))
        name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename) as error:
        raise UploadRejected.because(filename, f"not a valid wheel or sdist filename ({error})") \
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
    return _parse(raw, dist)


def _reject(dist: DistName, reason: str) -> UploadRejected:
    return UploadRejected.because(dist.filename, reason)


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
    if dist.kind == "bdist_wheel":
        wanted = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if len(wanted) != 1:
            raise _reject(dist, "no single top-level *.dist-info/METADATA in the wheel")
        if wanted[0].split("/")[0] + "/WHEEL" not in names:
            raise _reject(dist, "the wheel has no .dist-info/WHEEL file")
    else:
        wanted = [n for n in names if n.count("/") == 1 and n.endswith("/PKG-INFO")]
        if not wanted:
            raise _reject(dist, "no top-level PKG-INFO in the sdist")
    info = names[wanted[0]]
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


def _parse(raw: bytes, dist: DistName) -> CoreMetadata:
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
