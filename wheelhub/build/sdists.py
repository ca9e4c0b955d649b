"""Sdists to build from source: fetched once on the host, shared by every Python.

``--frontend build``, ``build[uv]`` and ``auto`` build a requirement from its sdist.
Fetched inside each container (``pip download``, or ``pip wheel``'s own fetch), that cost
every entry a pip start and an isolated metadata build, on a CPU slot, once per Python.
Instead the host fetches each pinned requirement's sdist once per run, into the cache
directory every container mounts, while the containers start and run the hook: no pip
and no build, just the file, found where pip would look (the requirements'
``--find-links``, ``--index-url``, ``--extra-index-url``, else PyPI) and checked against
the index's sha256. The wheels of the same version are listed too: ``auto`` leaves a
requirement to pip where pip would take one of them (:meth:`Release.has_wheel_for`).
An entry waits only for its own file. A requirement the host cannot fetch this way (a
range, whose sdist may differ per Python; an index only the container reaches; a hook
that points pip elsewhere) is fetched in its container as before.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import hashlib
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from wheelhub.build.prefetch import platform_tags
from wheelhub.build.requirements import RequirementLine, RequirementSet, pinned_version
from wheelhub.index.client import DEFAULT_INDEX, IndexClient, IndexUnreachable
from wheelhub.index.dists import parse_dist_filename
from wheelhub.index.errors import InvalidDistribution
from wheelhub.index.simple import IndexFile
from wheelhub.util.fileio import chown_to_user, ensure_dir
from wheelhub.util.log import get_logger

logger = get_logger("sdists")

SDISTS_DIR = "sdists"  # in the cache directory, which every build container mounts


@dataclass(frozen=True, kw_only=True, slots=True)
class Release:
    """What the host found of one pinned requirement."""

    sdist: str | None  # relative to the cache directory; None: none found or fetched
    wheels: tuple[str, ...] | None  # the version's wheel filenames; None: not listed

    def has_wheel_for(self, python: str, plat: str) -> bool | None:
        """Whether pip would take one of the wheels on *python* (``cp311``) on *plat* (the
        image's manylinux tag); None when the wheels could not be listed."""
        if self.wheels is None:
            return None
        accepted = accepted_tags(python, plat)
        for filename in self.wheels:
            with contextlib.suppress(InvalidWheelFilename, InvalidVersion):
                if any(tag in accepted for tag in parse_wheel_filename(filename)[3]):
                    return True
        return False


@dataclass(kw_only=True)
class SharedSdists:
    """Host-side sdist fetches for one run; ``with`` it around the builds."""

    requirements: RequirementSet
    cache_dir: Path
    ca_bundle: Path | None = None
    jobs: int = 4
    _pool: concurrent.futures.ThreadPoolExecutor | None = field(default=None, init=False)
    _futures: dict[str, concurrent.futures.Future[Release]] = field(default_factory=dict,
                                                                    init=False)
    # One client per index or find-links URL for the run (one connection pool, one TLS
    # handshake through the proxy), and each find-links page read once.
    _clients: dict[str, IndexClient] = field(default_factory=dict, init=False)
    _pages: dict[str, list[IndexFile]] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __enter__(self) -> SharedSdists:
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, self.jobs), thread_name_prefix="wheelhub-sdist")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        assert self._pool is not None
        self._pool.shutdown(wait=error is None, cancel_futures=True)
        for client in self._clients.values():
            client.close()

    def start(self, lines: Iterable[RequirementLine]) -> None:
        """Begin fetching the sdist of each pinned requirement in *lines* (once each)."""
        assert self._pool is not None, "use SharedSdists as a context manager"
        for line in lines:
            if line.project not in self._futures and pinned_version(line.requirement):
                self._futures[line.project] = self._pool.submit(self._fetch, line)

    def wait_for(self, project: str) -> Release:
        """What the host found of *project*, once it is done looking (nothing if it did
        not look: the container fetches what it needs itself)."""
        future = self._futures.get(project)
        if future is not None:
            with contextlib.suppress(concurrent.futures.CancelledError):
                return future.result()
        return Release(sdist=None, wheels=None)

    def _fetch(self, line: RequirementLine) -> Release:
        version = pinned_version(line.requirement)
        assert version is not None
        places = self._places
        key = "\0".join((line.project, str(version), *(f"{kind} {url}" for kind, url in places)))
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        home = ensure_dir(self.cache_dir / SDISTS_DIR)
        target = home / digest
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=home) as tmp:
            try:
                sdist, wheels = self._look(line.project, version, places)
            except (IndexUnreachable, OSError) as error:
                logger.debug("host could not look for %s (%s)", line, error)
                sdist, wheels = None, None
            cached = _single_file(target)
            if cached is not None:  # fetched by an earlier run
                return Release(sdist=f"{SDISTS_DIR}/{digest}/{cached}", wheels=wheels)
            if sdist is None:
                logger.debug("no sdist of %s where the host looked; its containers will look",
                             line)
                return Release(sdist=None, wheels=wheels)
            try:
                path = sdist(Path(tmp))
            except (IndexUnreachable, OSError) as error:
                logger.debug("host could not fetch %s (%s); its containers will", line, error)
                return Release(sdist=None, wheels=wheels)
            with contextlib.suppress(OSError):  # another run placed it first: same file
                Path(tmp).rename(target)
                Path(tmp).mkdir()  # for TemporaryDirectory's cleanup
        if _single_file(target) != path.name:  # a broken earlier fetch holds the place
            return Release(sdist=None, wheels=wheels)
        for created in (target, target / path.name):
            chown_to_user(created)
        logger.debug("fetched %s once for every Python: %s", line, path.name)
        return Release(sdist=f"{SDISTS_DIR}/{digest}/{path.name}", wheels=wheels)

    @functools.cached_property
    def _places(self) -> list[tuple[str, str]]:
        """Where pip would look, in order: ("find-links", dir or URL), then ("index", URL)."""
        places = self.requirements.host_places()
        links = [("find-links", url) for url in places.find_links]
        if places.no_index:
            return links
        indexes = (places.index_url or DEFAULT_INDEX, *places.extra_index_urls)
        return links + [("index", url) for url in indexes]

    def _client(self, where: str) -> IndexClient:
        with self._lock:
            if where not in self._clients:
                self._clients[where] = IndexClient(where, ca_bundle=self.ca_bundle)
            return self._clients[where]

    def _page(self, client: IndexClient, url: str) -> list[IndexFile]:
        """A find-links page's files, read once per run (every requirement looks there)."""
        with self._lock:
            known = self._pages.get(url)
        if known is None:
            known = client.page_files(url) or []
            with self._lock:
                self._pages[url] = known
        return known

    def _look(self, project: str, version: Version, places: list[tuple[str, str]]
              ) -> tuple[Callable[[Path], Path] | None, tuple[str, ...]]:
        """Every place pip would look: how to fetch the sdist of *project* *version* (from
        the first place that has it), and the wheels of that version anywhere."""
        sdist: Callable[[Path], Path] | None = None
        wheels: list[str] = []
        for kind, where in places:
            if kind == "find-links" and "://" not in where:
                local = Path(where)
                for path in sorted(local.iterdir()) if local.is_dir() else []:
                    found = _release_file(path.name, project, version)
                    if found == "sdist" and sdist is None and path.is_file():
                        sdist = functools.partial(_copy, path)
                    elif found == "wheel":
                        wheels.append(path.name)
                continue
            client = self._client(where)
            files = (self._page(client, where) if kind == "find-links"
                     else client.project_files(project)) or []
            for file in files:
                found = _release_file(file.filename, project, version)
                if found == "sdist" and sdist is None:
                    sdist = functools.partial(_download, client, file)
                elif found == "wheel":
                    wheels.append(file.filename)
        return sdist, tuple(sorted(set(wheels)))


def _copy(path: Path, dest: Path) -> Path:
    return Path(shutil.copy2(path, dest / path.name))


def _download(client: IndexClient, file: IndexFile, dest: Path) -> Path:
    return client.download(file, dest)


def accepted_tags(python: str, plat: str) -> set[Tag]:
    """The wheel tags pip accepts for CPython *python* (``cp311``) in an image whose
    auditwheel platform is *plat* (every older manylinux tag too)."""
    digits = python[2:]
    version = (int(digits[0]), int(digits[1:]))
    platforms = platform_tags(plat) or [plat]
    return {*cpython_tags(version, abis=[python], platforms=platforms),
            *compatible_tags(version, interpreter=python, platforms=platforms)}


def _release_file(filename: str, project: str, version: Version) -> str:
    """"sdist" or "wheel" for a file of *project* *version*, else ""."""
    try:
        dist = parse_dist_filename(filename)
    except InvalidDistribution:
        return ""
    if dist.project != project or dist.version != version:
        return ""
    return "wheel" if dist.kind == "bdist_wheel" else "sdist"


def _single_file(directory: Path) -> str | None:
    try:
        names = [p.name for p in directory.iterdir() if p.is_file()]
    except OSError:
        return None
    return names[0] if len(names) == 1 else None


