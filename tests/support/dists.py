"""Tiny valid distributions: wheels and sdists with real metadata, and wheelhouses with a
manifest. Wheels are byte-for-byte reproducible: the same arguments give the same file."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from wheelhub.manifest import Entry, Manifest, TestRecord, WheelRecord

_EPOCH = (2024, 1, 1, 0, 0, 0)


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def metadata_text(name: str, version: str, *, requires_python: str | None = None,
                  requires: Sequence[str] = (), summary: str = "A tiny test package") -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
             f"Summary: {summary}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {req}" for req in requires]
    return "\n".join(lines) + "\n\n"


def make_wheel(directory: Path, name: str, version: str = "1.0", *,
               tag: str = "py3-none-any", requires_python: str | None = None,
               requires: Sequence[str] = (), metadata_name: str | None = None,
               payload: bytes = b"", build: str | None = None) -> Path:
    """Write an installable wheel (a module with ``__version__`` + *payload*, METADATA, WHEEL,
    RECORD) and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    dist = canonicalize_name(name).replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}/__init__.py": f"__version__ = {version!r}\n".encode() + payload,
        f"{info}/METADATA": metadata_text(metadata_name or name, version,
                                          requires_python=requires_python,
                                          requires=requires).encode(),
        f"{info}/WHEEL": (f"Wheel-Version: 1.0\nGenerator: wheelhub-tests\n"
                          f"Root-Is-Purelib: {'true' if tag.endswith('-any') else 'false'}\n"
                          + "".join(f"Tag: {t}\n" for t in _expand(tag))).encode(),
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    build_part = f"-{build}" if build else ""
    path = directory / f"{dist}-{version}{build_part}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            archive.writestr(zipfile.ZipInfo(member, date_time=_EPOCH), data,
                             compress_type=zipfile.ZIP_DEFLATED)
    return path


def _expand(tag: str) -> list[str]:
    pythons, abis, platforms = tag.split("-")
    return [f"{p}-{a}-{pl}" for p in pythons.split(".") for a in abis.split(".")
            for pl in platforms.split(".")]


def make_sdist(directory: Path, name: str, version: str, *,
               requires_python: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    dist = canonicalize_name(name).replace("-", "_")
    base = f"{dist}-{version}"
    path = directory / f"{base}.tar.gz"
    members = {f"{base}/PKG-INFO": metadata_text(name, version,
                                                 requires_python=requires_python).encode(),
               f"{base}/setup.py": b"from setuptools import setup\nsetup()\n"}
    with tarfile.open(path, "w:gz") as archive:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return path


# -- wheelhouses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pkg:
    """One requirement of a wheelhouse and how its build and test went."""

    name: str
    version: str = "1.0"
    build: str = "built"  # built/cached/failed
    test: str = "passed"  # passed/failed/untested
    marker: str = ""  # changes the wheel's bytes (not its name)


def make_wheelhouse(directory: Path, packages: Sequence[Pkg]) -> Path:
    """A wheelhouse as ``wheelhub build`` + ``wheelhub test`` leave it: wheels and a manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for pkg in packages:
        wheels: tuple[WheelRecord, ...] = ()
        if pkg.build != "failed":
            path = make_wheel(directory, pkg.name, pkg.version,
                              payload=f"MARKER = {pkg.marker!r}\n".encode())
            data = path.read_bytes()
            wheels = (WheelRecord(filename=path.name, sha256=hashlib.sha256(data).hexdigest(),
                                  size=len(data), project=pkg.name, version=pkg.version,
                                  tags=("py3-none-any",)),)
        entries.append(Entry(requirement=f"{pkg.name}=={pkg.version}", project=pkg.name,
                             python="cp311", key=hashlib.sha256(pkg.name.encode()).hexdigest(),
                             status=pkg.build,  # type: ignore[arg-type]
                             wheels=wheels,
                             test=TestRecord(status=pkg.test)))  # type: ignore[arg-type]
    Manifest(entries=tuple(entries)).save(directory)
    return directory
