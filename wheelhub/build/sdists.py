"""The build frontends' sdists: fetched once on the host, shared by every Python.

``--frontend build`` and ``build[uv]`` build a requirement from its sdist. Fetched inside
each container (``pip download``), that cost every entry a pip start and an isolated
metadata build, on a CPU slot, once per Python. Instead the host fetches each pinned
requirement's sdist once per run, into the cache directory every container mounts, while
the containers start and run the hook: no pip and no build, just the file, found where
pip would look (the requirements' ``--find-links``, ``--index-url``,
``--extra-index-url``, else PyPI) and checked against the index's sha256. An entry waits
only for its own file. A requirement the host cannot fetch this way (a range, whose sdist
may differ per Python; an index only the container reaches; a hook that points pip
elsewhere) is fetched in its container as before.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from wheelhub.build.requirements import RequirementLine, RequirementSet
from wheelhub.index.client import DEFAULT_INDEX, IndexClient, IndexUnreachable
from wheelhub.index.dists import parse_dist_filename
from wheelhub.index.errors import InvalidDistribution
from wheelhub.util.fileio import chown_to_user, ensure_dir
from wheelhub.util.log import get_logger

logger = get_logger("sdists")

SDISTS_DIR = "sdists"  # in the cache directory, which every build container mounts


@dataclass(kw_only=True)
class SharedSdists:
    """Host-side sdist fetches for one run; ``with`` it around the builds."""

    requirements: RequirementSet
    cache_dir: Path
    ca_bundle: Path | None = None
    jobs: int = 4
    _pool: concurrent.futures.ThreadPoolExecutor | None = field(default=None, init=False)
    _futures: dict[str, concurrent.futures.Future[str | None]] = field(default_factory=dict,
                                                                       init=False)

    def __enter__(self) -> SharedSdists:
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, self.jobs), thread_name_prefix="wheelhub-sdist")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        assert self._pool is not None
        self._pool.shutdown(wait=error is None, cancel_futures=True)

    def start(self, lines: Iterable[RequirementLine]) -> None:
        """Begin fetching the sdist of each pinned requirement in *lines* (once each)."""
        assert self._pool is not None, "use SharedSdists as a context manager"
        for line in lines:
            if line.project not in self._futures and pinned_version(line.requirement):
                self._futures[line.project] = self._pool.submit(self._fetch, line)

    def wait_for(self, project: str) -> str | None:
        """The sdist of *project* relative to the cache directory, once fetched; None if
        the host did not fetch it (the container fetches it itself)."""
        future = self._futures.get(project)
        if future is None:
            return None
        with contextlib.suppress(concurrent.futures.CancelledError):
            return future.result()
        return None

    def _fetch(self, line: RequirementLine) -> str | None:
        version = pinned_version(line.requirement)
        assert version is not None
        places = self._places()
        key = "\0".join((line.project, str(version), *(f"{kind} {url}" for kind, url in places)))
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        home = ensure_dir(self.cache_dir / SDISTS_DIR)
        target = home / digest
        if (found := _single_file(target)) is not None:
            return f"{SDISTS_DIR}/{digest}/{found}"
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=home) as tmp:
            try:
                path = self._find(line.project, version, places, Path(tmp))
            except (IndexUnreachable, OSError) as error:
                logger.debug("host could not fetch %s (%s); its containers will", line, error)
                return None
            if path is None:
                logger.debug("no sdist of %s where the host looked; its containers will look", line)
                return None
            with contextlib.suppress(OSError):  # another run placed it first: same file
                Path(tmp).rename(target)
                Path(tmp).mkdir()  # for TemporaryDirectory's cleanup
        if _single_file(target) != path.name:  # a broken earlier fetch holds the place
            return None
        for created in (target, target / path.name):
            chown_to_user(created)
        logger.debug("fetched %s once for every Python: %s", line, path.name)
        return f"{SDISTS_DIR}/{digest}/{path.name}"

    def _places(self) -> list[tuple[str, str]]:
        """Where pip would look, in order: ("find-links", dir or URL), then ("index", URL)."""
        options = self.requirements.host_index_options()
        pairs = list(zip(options[::2], options[1::2], strict=True))
        links = [("find-links", url) for flag, url in pairs if flag in {"-f", "--find-links"}]
        if "--no-index" in self.requirements.pip_options:
            return links
        main = [url for flag, url in pairs if flag in {"-i", "--index-url"}][-1:] or [DEFAULT_INDEX]
        extra = [url for flag, url in pairs if flag == "--extra-index-url"]
        return links + [("index", url) for url in (*main, *extra)]

    def _find(self, project: str, version: Version, places: list[tuple[str, str]],
              dest: Path) -> Path | None:
        """The sdist of *project* *version* from the first place that has it, into *dest*."""
        for kind, where in places:
            if kind == "find-links" and "://" not in where:
                local = Path(where)
                candidates = [p for p in local.iterdir() if p.is_file()] if local.is_dir() else []
                for path in candidates:
                    if _is_sdist_of(path.name, project, version):
                        return Path(shutil.copy2(path, dest / path.name))
                continue
            with IndexClient(where, ca_bundle=self.ca_bundle) as client:
                files = (client.page_files(where) if kind == "find-links"
                         else client.project_files(project)) or []
                for file in files:
                    if _is_sdist_of(file.filename, project, version):
                        return client.download(file, dest)
        return None


def pinned_version(requirement: Requirement) -> Version | None:
    """The one version an ``==`` pin (no wildcard) names: one sdist serves every Python."""
    if requirement.url is not None:
        return None
    for spec in requirement.specifier:
        if spec.operator == "==" and "*" not in spec.version:
            with contextlib.suppress(InvalidVersion):
                return Version(spec.version)
    return None


def _is_sdist_of(filename: str, project: str, version: Version) -> bool:
    try:
        dist = parse_dist_filename(filename)
    except InvalidDistribution:
        return False
    return dist.kind == "sdist" and dist.project == project and dist.version == version


def _single_file(directory: Path) -> str | None:
    try:
        names = [p.name for p in directory.iterdir() if p.is_file()]
    except OSError:
        return None
    return names[0] if len(names) == 1 else None


