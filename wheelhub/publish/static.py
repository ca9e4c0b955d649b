"""A static index in a directory: what pip installs from via ``file://`` or any web server.

Layout (one tree, several labels; a file is stored once and listed by every label)::

    <root>/_files/<wheel>                     the wheels, immutable
    <root>/_files/<wheel>.metadata            PEP 658 core metadata
    <root>/<label>/simple/index.html|json     PEP 503 / PEP 691 project list
    <root>/<label>/simple/<project>/index.html|json   the project's files

The JSON project pages are the state: publishing reads them (:mod:`wheelhub.index.simple`
parses what it renders), merges the new files in and rewrites only the pages whose bytes
change, each atomically, wheels and metadata first, project pages next, the label's project
list last, so a reader never sees a link to something that is not there yet. A lock file
serializes concurrent publishers.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from wheelhub.index.dists import parse_core_metadata, parse_dist_filename, wheel_metadata
from wheelhub.index.errors import InvalidDistribution
from wheelhub.index.simple import (
    JSON_TYPE,
    METADATA_SUFFIX,
    IndexFile,
    parse_index,
    parse_project,
    render_index,
    render_project,
)
from wheelhub.publish.errors import TargetError
from wheelhub.publish.model import Candidate
from wheelhub.publish.target import Listing, UploadFailedError
from wheelhub.util.fileio import atomic_write_bytes, atomic_writer, ensure_dir, sha256_file
from wheelhub.util.log import get_logger

log = get_logger("publish")

FILES_DIR = "_files"
LOCK_NAME = ".wheelhub-publish.lock"


class StaticTarget:
    kind = "dir"

    def __init__(self, root: Path, label: str) -> None:
        self.root = root
        self.label = label
        self.description = f"{root} (label {label})"
        self.notes: tuple[str, ...] = ()
        self.changed_pages: list[Path] = []
        try:
            ensure_dir(root / FILES_DIR)
        except OSError as error:
            raise TargetError(f"cannot create the static index at {root} "
                              f"({error.strerror or error})",
                              hint="choose a writable directory for --to file:///DIR") from None

    @property
    def simple(self) -> Path:
        return self.root / self.label / "simple"

    # -- reading ---------------------------------------------------------------------------
    def _project_files(self, project: str) -> list[IndexFile]:
        path = self.simple / project / "index.json"
        try:
            return parse_project(path.read_bytes(), JSON_TYPE)
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise TargetError(f"cannot read {path} ({error})",
                              hint="the static index is damaged; remove that page and publish "
                              "again to rebuild it") from None

    def existing(self, projects: Iterable[str]) -> Listing:
        return {file.filename: file.sha256
                for project in set(projects) for file in self._project_files(project)}

    # -- writing ---------------------------------------------------------------------------
    def upload(self, candidate: Candidate) -> None:
        stored = self.root / FILES_DIR / candidate.filename
        if stored.exists():
            if sha256_file(stored) != candidate.sha256:
                raise UploadFailedError(f"{FILES_DIR}/{candidate.filename} already exists with "
                                        "different contents", conflict=True)
        else:
            try:
                with atomic_writer(stored) as out, candidate.path.open("rb") as source:
                    shutil.copyfileobj(source, out, 1 << 20)
            except OSError as error:
                raise UploadFailedError(
                    f"cannot write {stored}: {error.strerror or error}") from None
        metadata_path = stored.with_name(stored.name + METADATA_SUFFIX)
        if not metadata_path.exists():
            try:
                atomic_write_bytes(metadata_path, wheel_metadata(stored).raw)
            except InvalidDistribution as error:
                raise UploadFailedError(error.message) from None

    def finish(self, published: Sequence[Candidate]) -> None:
        if not published:
            return
        with self._locked():
            by_project: dict[str, list[Candidate]] = {}
            for candidate in published:
                by_project.setdefault(candidate.project, []).append(candidate)
            for project, candidates in sorted(by_project.items()):
                self._write_project(project, candidates)
            self._write_project_list(by_project)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.root / LOCK_NAME).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _index_file(self, candidate: Candidate) -> IndexFile:
        metadata = (self.root / FILES_DIR / (candidate.filename + METADATA_SUFFIX)).read_bytes()
        dist = parse_dist_filename(candidate.filename)
        return IndexFile(filename=candidate.filename,
                         url=f"../../../{FILES_DIR}/{candidate.filename}",
                         sha256=candidate.sha256, version=str(dist.version), size=candidate.size,
                         requires_python=parse_core_metadata(metadata, dist).requires_python,
                         metadata_sha256=hashlib.sha256(metadata).hexdigest())

    def _write_project(self, project: str, candidates: Sequence[Candidate]) -> None:
        files = {file.filename: file for file in self._project_files(project)}
        files.update((c.filename, self._index_file(c)) for c in candidates)
        page = render_project(project, files.values())
        directory = ensure_dir(self.simple / project)
        self._write(directory / "index.json", page.json)
        self._write(directory / "index.html", page.html)

    def _write_project_list(self, added: Iterable[str]) -> None:
        path = self.simple / "index.json"
        try:
            current = parse_index(path.read_bytes())
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            current = []
        page = render_index((name, name) for name in set(current) | set(added))
        self._write(path, page.json)
        self._write(self.simple / "index.html", page.html)

    def _write(self, path: Path, data: bytes) -> None:
        """Atomically, and only when the bytes change (so unchanged pages keep their mtime)."""
        with contextlib.suppress(FileNotFoundError):
            if path.read_bytes() == data:
                return
        atomic_write_bytes(path, data)
        self.changed_pages.append(path)
        log.debug("wrote %s", path)

    def close(self) -> None:
        return None
