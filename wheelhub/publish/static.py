"""A static index in a directory: what pip installs from via ``file://`` or any web server.

Layout (one tree, several labels; a file is stored once and listed by every label)::

    <root>/_files/<wheel>                     the wheels, immutable
    <root>/_files/<wheel>.metadata            PEP 658 core metadata
    <root>/<label>/simple/index.html|json     PEP 503 / PEP 691 project list
    <root>/<label>/simple/<project>/index.html|json   the project's files

The JSON project pages are the state: publishing reads them, merges the new files in
and rewrites only the pages whose bytes change, each atomically, wheels and metadata
first, project pages next, the label's project list last, so a reader never sees a
link to something that is not there yet. A lock file serializes concurrent publishers.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import html
import json
import shutil
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

from packaging.utils import parse_wheel_filename

from wheelhub.publish.errors import TargetError
from wheelhub.publish.model import Candidate
from wheelhub.publish.target import Listing, UploadFailedError
from wheelhub.publish.wheelhouse import sha256_of
from wheelhub.util.fileio import atomic_write_bytes, atomic_writer, ensure_dir
from wheelhub.util.log import get_logger

log = get_logger("publish")

FILES_DIR = "_files"
API_VERSION = "1.1"
LOCK_NAME = ".wheelhub-publish.lock"


def read_core_metadata(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            parts = name.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                return archive.read(name)
    raise UploadFailedError(f"{wheel.name} has no .dist-info/METADATA")


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
    def _project_state(self, project: str) -> dict[str, Any]:
        path = self.simple / project / "index.json"
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"meta": {"api-version": API_VERSION}, "name": project, "files": [],
                    "versions": []}
        except (OSError, ValueError) as error:
            raise TargetError(f"cannot read {path} ({error})",
                              hint="the static index is damaged; remove that page and publish "
                              "again to rebuild it") from None
        return data

    def existing(self, projects: Iterable[str]) -> Listing:
        found: dict[str, str] = {}
        for project in set(projects):
            for entry in self._project_state(project)["files"]:
                found[entry["filename"]] = entry.get("hashes", {}).get("sha256", "")
        return found

    # -- writing ---------------------------------------------------------------------------
    def upload(self, candidate: Candidate) -> None:
        stored = self.root / FILES_DIR / candidate.filename
        if stored.exists():
            if sha256_of(stored) != candidate.sha256:
                raise UploadFailedError(f"{FILES_DIR}/{candidate.filename} already exists with "
                                    "different contents", conflict=True)
        else:
            try:
                with atomic_writer(stored) as out, candidate.path.open("rb") as source:
                    shutil.copyfileobj(source, out, 1 << 20)
            except OSError as error:
                raise UploadFailedError(
                    f"cannot write {stored}: {error.strerror or error}") from None
        metadata_path = stored.with_name(stored.name + ".metadata")
        if not metadata_path.exists():
            atomic_write_bytes(metadata_path, read_core_metadata(stored))

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

    def _file_entry(self, candidate: Candidate) -> dict[str, Any]:
        metadata = (self.root / FILES_DIR / (candidate.filename + ".metadata")).read_bytes()
        headers = HeaderParser().parsestr(metadata.decode("utf-8", errors="replace"))
        metadata_hash = {"sha256": hashlib.sha256(metadata).hexdigest()}
        entry: dict[str, Any] = {
            "filename": candidate.filename,
            "url": f"../../../{FILES_DIR}/{candidate.filename}",
            "hashes": {"sha256": candidate.sha256},
            "size": candidate.size,
            "core-metadata": metadata_hash,
            "dist-info-metadata": metadata_hash,
        }
        if headers.get("Requires-Python"):
            entry["requires-python"] = str(headers["Requires-Python"])
        return entry

    def _write_project(self, project: str, candidates: Sequence[Candidate]) -> None:
        state = self._project_state(project)
        files = {entry["filename"]: entry for entry in state["files"]}
        for candidate in candidates:
            files[candidate.filename] = self._file_entry(candidate)
        versions = {str(parse_wheel_filename(name)[1]) for name in files if name.endswith(".whl")}
        state = {"meta": {"api-version": API_VERSION}, "name": project,
                 "files": [files[name] for name in sorted(files)],
                 "versions": sorted(versions)}
        directory = ensure_dir(self.simple / project)
        self._write(directory / "index.json", _json_bytes(state))
        self._write(directory / "index.html", render_project_html(state))

    def _write_project_list(self, added: Iterable[str]) -> None:
        path = self.simple / "index.json"
        try:
            current = json.loads(path.read_text(encoding="utf-8"))["projects"]
        except (FileNotFoundError, ValueError, KeyError):
            current = []
        names = sorted({p["name"] for p in current} | set(added))
        state = {"meta": {"api-version": API_VERSION}, "projects": [{"name": n} for n in names]}
        self._write(path, _json_bytes(state))
        links = "\n".join(f'    <a href="{html.escape(n)}/">{html.escape(n)}</a><br/>'
                          for n in names)
        self._write(self.simple / "index.html", _page("Simple index", links))

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


def _json_bytes(data: object) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def _page(title: str, body: str) -> bytes:
    return (f'<!DOCTYPE html>\n<html>\n  <head>\n'
            f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
            f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
            f"    <h1>{html.escape(title)}</h1>\n{body}\n  </body>\n</html>\n").encode()


def render_project_html(state: dict[str, Any]) -> bytes:
    links = []
    for entry in state["files"]:
        attrs = [f'href="{html.escape(entry["url"])}#sha256={entry["hashes"]["sha256"]}"']
        if entry.get("requires-python"):
            attrs.append(f'data-requires-python="{html.escape(entry["requires-python"])}"')
        if entry.get("core-metadata"):
            value = f'sha256={entry["core-metadata"]["sha256"]}'
            attrs.append(f'data-core-metadata="{value}" data-dist-info-metadata="{value}"')
        links.append(f'    <a {" ".join(attrs)}>{html.escape(entry["filename"])}</a><br/>')
    return _page(f"Links for {state['name']}", "\n".join(links))
