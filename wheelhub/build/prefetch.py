"""``--hermetic``: everything a build needs is fetched on the host first, then no network.

What a build needs, per planned Python:

* each requirement: the binary wheel pip would take for the image's platform, else its
  sdist (one sdist serves every Python);
* each sdist's build backend (``[build-system] requires``, or PEP 517's setuptools
  default) and ``requirements-build.txt``, resolved by the host's pip as wheels for that
  Python, with their dependencies.

Files land in ``<cache>/hermetic/files``. Each Python gets a find-links page that lists
exactly its files with ``#sha256=`` (pip checks them), and the manifest's lock records every
file and its sha256: the same inputs take the same bytes next time, and a run whose lock is
satisfied by the files on disk fetches nothing.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import html
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from wheelhub.build.errors import HermeticError
from wheelhub.build.requirements import RequirementLine, RequirementSet, allowed_formats
from wheelhub.engines.pythons import PythonPrefix
from wheelhub.manifest import LockedFile
from wheelhub.util.fileio import atomic_write_bytes, ensure_dir, sha256_file
from wheelhub.util.log import get_logger

logger = get_logger("prefetch")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

HERMETIC_DIR = "hermetic"  # in the cache directory, which every build container mounts
PEP517_DEFAULT = ("setuptools>=40.8.0",)  # what pip assumes without [build-system]
# Asked for by setuptools' get_requires_for_build_wheel before 70.1: fetched beside it.
SETUPTOOLS_EXTRAS = ("wheel",)


@dataclass(frozen=True, kw_only=True, slots=True)
class Need:
    """One fetch: what needs it (for messages and the lock), for which Python ('' = all)."""

    what: str  # "whfix-clib==1.0", "build backend of whfix-clib-1.0.tar.gz", ...
    python: str
    args: tuple[str, ...]  # pip download arguments
    optional: bool  # a requirement's own wheel or sdist: finding none is the caller's to judge
    digest: str  # of everything the result depends on: a changed input is a new need

    @property
    def locked_as(self) -> str:
        return f"{self.what} #{self.digest}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Prefetched:
    """What a hermetic run fetched: the lock, and each Python's find-links page."""

    lock: tuple[LockedFile, ...]
    pages: Mapping[str, str]  # python tag -> page path relative to the cache dir
    downloaded: int  # files fetched this run (0: everything came from the lock)


@dataclass(kw_only=True)
class Prefetch:
    """The host-side fetch for one run (see the module docstring)."""

    requirements: RequirementSet
    build_requirements: RequirementSet | None
    pythons: Sequence[PythonPrefix]
    plat: str
    cache_dir: Path
    ca_bundle: Path | None = None
    frontend: str = "pip"
    no_binary: tuple[str, ...] = ()
    only_binary: tuple[str, ...] = ()
    locked: Sequence[LockedFile] = ()
    jobs: int = 4
    _downloaded: int = field(default=0, init=False)

    @property
    def files_dir(self) -> Path:
        return self.cache_dir / HERMETIC_DIR / "files"

    def run(self) -> Prefetched:
        ensure_dir(self.files_dir)
        lock: list[LockedFile] = []
        wheels = self._fetch_all(self._wheel_needs())
        have_wheel = {(need.what, need.python) for need, files in wheels if files}
        sources: list[tuple[RequirementLine, list[str], Need]] = []
        for need, files in wheels:
            lock.extend(files or [_none_available(need)])
        for line in self.requirements.requirements:
            missing = [p.tag for p in self.pythons
                       if (str(line.requirement), p.tag) not in have_wheel]
            if not missing:
                continue
            if "source" not in self._formats(line.project):
                raise HermeticError.no_distribution(str(line.requirement), line.location,
                                                    missing, self.plat, "--only-binary")
            sources.append((line, missing, self._need(str(line.requirement), "", (
                "--no-binary", ":all:", "--no-deps", str(line.requirement)), optional=True)))
        sdists: dict[str, list[str]] = {}  # sdist filename -> the Pythons that build it
        for (line, missing, _need), (_same, files) in zip(
                sources, self._fetch_all([s[2] for s in sources]), strict=True):
            if not files:
                raise HermeticError.no_distribution(str(line.requirement), line.location,
                                                    missing, self.plat, "")
            lock.extend(files)
            for f in files:
                sdists.setdefault(f.filename, []).extend(missing)
        for _need, files in self._fetch_all(self._backend_needs(sdists)):
            lock.extend(files)
        unique = {(f.python, f.need, f.filename): f for f in lock}
        final = tuple(sorted(unique.values(), key=lambda f: (f.python, f.need, f.filename)))
        return Prefetched(lock=final, pages=self._write_pages(final),
                          downloaded=self._downloaded)

    def _need(self, what: str, python: str, args: tuple[str, ...], *,
              optional: bool = False) -> Need:
        return Need(what=what, python=python, args=args, optional=optional,
                    digest=self._digest(args))

    def _digest(self, args: Sequence[str]) -> str:
        """What a locked result depends on: the pip arguments, the indexes, the constraints."""
        text = "\0".join((*args, *self._index_options, self._constraints))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _formats(self, project: str) -> frozenset[str]:
        """What the build's pip may take for *project*: the requirements files' and
        wheelhub's ``--no-binary``/``--only-binary``, in the order the build passes them."""
        return allowed_formats(project, self._format_options)

    @functools.cached_property
    def _format_options(self) -> tuple[str, ...]:
        options = list(self.requirements.pip_options)
        if self.no_binary:
            options += ["--no-binary", ",".join(self.no_binary)]
        if self.only_binary:
            options += ["--only-binary", ",".join(self.only_binary)]
        return tuple(options)

    @functools.cached_property
    def _constraints(self) -> str:
        return (self.build_requirements.constraint_text()
                if self.build_requirements is not None else "")

    # -- what is needed ------------------------------------------------------------------
    def _wheel_needs(self) -> list[Need]:
        """Per requirement and Python: the binary wheel pip would take, if it may be binary."""
        needs: list[Need] = []
        for line in self.requirements.requirements:
            self._check_pinned(line)
            # pip wheel takes a wheel where there is one; the build frontends build the sdist
            if self.frontend != "pip" or "binary" not in self._formats(line.project):
                continue
            for python in self.pythons:
                needs.append(self._need(str(line.requirement), python.tag, (
                    *self._target(python), "--only-binary", ":all:", "--no-deps",
                    str(line.requirement)), optional=True))
        return needs

    def _check_pinned(self, line: RequirementLine) -> None:
        pins = [s for s in line.requirement.specifier if s.operator in {"==", "==="}]
        if line.requirement.url is None and not pins:
            raise HermeticError.not_pinned(line.location, str(line.requirement))

    def _backend_needs(self, sdists: Mapping[str, list[str]]) -> list[Need]:
        """Per Python: each sdist's build backend, the frontend, requirements-build.txt."""
        per_python: dict[str, dict[tuple[str, ...], str]] = {}
        for filename, pythons in sdists.items():
            requires = build_requires(self.files_dir / filename)
            for tag in pythons:
                per_python.setdefault(tag, {})[requires] = (
                    f"build backend of {filename} ({', '.join(requires)})")
        extra = [] if self.frontend == "pip" else [self.frontend]  # what the session installs
        if self.build_requirements is not None:
            extra += [str(line.requirement) for line in self.build_requirements.requirements]
        constraints = self._build_constraints()
        needs = []
        for python in self.pythons:
            sets = per_python.get(python.tag, {})
            if extra:
                sets[tuple(extra)] = f"build requirements ({', '.join(extra)})"
            for requires, what in sets.items():
                needs.append(self._need(what, python.tag, (
                    *self._target(python), "--only-binary", ":all:", *constraints, *requires)))
        return needs

    def _build_constraints(self) -> tuple[str, ...]:
        if self.build_requirements is None:
            return ()
        path = self.cache_dir / HERMETIC_DIR / "build-constraints.txt"
        atomic_write_bytes(path, self.build_requirements.constraint_text().encode())
        return ("--constraint", str(path))

    def _target(self, python: PythonPrefix) -> tuple[str, ...]:
        """pip download's options for wheels that *python* in the image can install."""
        version = python.version
        impl = python.tag[:2]
        args = ["--python-version", version, "--implementation", impl,
                "--abi", python.tag, "--abi", "abi3", "--abi", "none"]
        for platform in platform_tags(self.plat):
            args += ["--platform", platform]
        return tuple(args)

    # -- fetching ------------------------------------------------------------------------
    def _fetch_all(self, needs: Sequence[Need]) -> list[tuple[Need, list[LockedFile]]]:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, self.jobs)) as pool:
            return list(zip(needs, pool.map(self._fetch, needs), strict=True))

    def _fetch(self, need: Need) -> list[LockedFile]:
        """The files *need* locked last time if they are all on disk, else pip download.
        A wheel or sdist that does not exist is [] (the caller decides); a build backend
        that cannot be fetched is an error."""
        locked = [f for f in self.locked if f.need == need.locked_as and f.python == need.python]
        if locked and all(self._intact(f) for f in locked):
            return [f for f in locked if f.filename]
        with tempfile.TemporaryDirectory(prefix="wheelhub-fetch-") as tmp:
            logger.info("fetching %s%s", need.what, f" for {need.python}" if need.python else "")
            done = host_pip_download([*self._index_options, *need.args], Path(tmp),
                                     ca_bundle=self.ca_bundle)
            if done.returncode != 0:
                if need.optional:
                    return []
                raise HermeticError.fetch_failed(need.what, need.python,
                                                 _last_error(done.stderr))
            return [self._keep(Path(tmp) / name, need) for name in sorted(_listdir(Path(tmp)))]

    def _keep(self, path: Path, need: Need) -> LockedFile:
        digest = sha256_file(path)
        for old in self.locked:
            if old.filename == path.name and old.sha256 and old.sha256 != digest:
                raise HermeticError.hash_changed(path.name, old.sha256, digest)
        target = self.files_dir / path.name
        if not target.exists() or sha256_file(target) != digest:
            shutil.move(str(path), target)
            self._downloaded += 1
        return LockedFile(filename=path.name, sha256=digest, need=need.locked_as,
                          python=need.python)

    def _intact(self, locked: LockedFile) -> bool:
        path = self.files_dir / locked.filename
        if not locked.filename:
            return True
        return path.is_file() and sha256_file(path) == locked.sha256

    @functools.cached_property
    def _index_options(self) -> list[str]:
        return self.requirements.host_index_options()

    # -- the find-links pages ------------------------------------------------------------
    def _write_pages(self, lock: Iterable[LockedFile]) -> dict[str, str]:
        pages: dict[str, str] = {}
        for python in self.pythons:
            files = sorted({(f.filename, f.sha256) for f in lock
                            if f.filename and f.python in {"", python.tag}})
            links = "".join(f'<a href="files/{html.escape(name)}#sha256={digest}">'
                            f"{html.escape(name)}</a>\n" for name, digest in files)
            relative = f"{HERMETIC_DIR}/{python.tag}.html"
            atomic_write_bytes(self.cache_dir / relative,
                               f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n".encode())
            pages[python.tag] = relative
        return pages


def host_pip_download(args: Sequence[str], dest: Path, *,
                      ca_bundle: Path | None) -> subprocess.CompletedProcess[str]:
    """The host's ``pip download`` of *args* into *dest*, quiet, trusting *ca_bundle*."""
    argv = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
            "--no-input", "--progress-bar", "off", "--dest", str(dest),
            *(("--cert", str(ca_bundle)) if ca_bundle is not None else ()), *args]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def build_requires(sdist: Path) -> tuple[str, ...]:
    """An sdist's ``[build-system] requires`` (PEP 517's default without one), plus what
    setuptools asks for on its own."""
    requires: list[str] = list(PEP517_DEFAULT)
    try:
        with tarfile.open(sdist) as archive:
            member = next((m for m in archive.getmembers()
                           if m.name.count("/") == 1 and m.name.endswith("/pyproject.toml")),
                          None)
            handle = archive.extractfile(member) if member is not None else None
            if handle is not None:
                data = tomllib.loads(handle.read().decode("utf-8"))
                system = data.get("build-system", {})
                if isinstance(system, dict) and isinstance(system.get("requires"), list):
                    requires = [str(r) for r in system["requires"]]
    except (tarfile.TarError, OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise HermeticError.unreadable_sdist(sdist.name, str(error)) from error
    names = set()
    for text in requires:
        try:
            names.add(canonicalize_name(Requirement(text).name))
        except InvalidRequirement:
            continue
    if "setuptools" in names:
        requires += [r for r in SETUPTOOLS_EXTRAS if r not in names]
    return tuple(requires)


def platform_tags(plat: str) -> list[str]:
    """``manylinux_2_36_x86_64`` → every manylinux tag a system with that glibc accepts."""
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", plat)
    legacy = re.fullmatch(r"manylinux(1|2010|2014)_(\w+)", plat)
    if legacy:
        minor = {"1": 5, "2010": 12, "2014": 17}[legacy[1]]
        match = re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", f"manylinux_2_{minor}_{legacy[2]}")
    if not match:
        return [plat] if plat else []
    major, minor, arch = int(match[1]), int(match[2]), match[3]
    tags = []
    for glibc in range(minor, 4, -1):
        tags.append(f"manylinux_{major}_{glibc}_{arch}")
        alias = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}.get(glibc)
        if alias:
            tags.append(f"{alias}_{arch}")
    return tags


def _none_available(need: Need) -> LockedFile:
    """The lock's record that *need* found nothing (no wheel for that Python): not asked again."""
    return LockedFile(filename="", sha256="", need=need.locked_as, python=need.python)


def _listdir(path: Path) -> list[str]:
    return [p.name for p in path.iterdir() if p.is_file()]


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return (errors or lines or ["pip download failed"])[-1].removeprefix("ERROR: ")
