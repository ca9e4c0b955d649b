"""The static mirror (``serve --static-dir``): public labels' pages and files as a tree that
nginx serves without asking the hub (``deploy/nginx.conf``).

Paths mirror the hub's URLs (:mod:`wheelhub.index.urls`), so ``try_files $uri...`` finds
them and a miss falls through to the hub::

    <owner>/simple/index.{html,json}[.gz]              label main's /simple/
    <owner>/simple/<project>/index.{html,json}[.gz]    a project page (PEP 503 / PEP 691)
    <owner>/files/<filename>[.metadata]                a file and its core metadata
    <owner>/label/<label>/...                          the same for any other label

After every write transaction commits, the pages it changed are rewritten (temp file +
rename, so nginx never reads half a page): files a page links to are linked in before the
page, files it no longer links are removed after. A private label, a label of a private
owner or of an owner with an upstream (whose pages merge another index per request) is
never written, and is removed when it becomes one. Files are hard links to the blobs:
blobs are content-addressed and never change, a link costs no space or copy time, and it
keeps the bytes while nginx may still serve them after the hub collects the blob; a copy
is made only where the tree is on another filesystem.

One lock file serializes the instances writing one tree, and each reads the database
after taking it, so the last writer always writes the newest state. The tree is rebuilt
from the database at startup, which also catches changes made while no hub ran.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import shutil
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from wheelhub.index import urls
from wheelhub.index.simple import METADATA_SUFFIX
from wheelhub.server.errors import StaticDirError
from wheelhub.util.log import get_logger

if TYPE_CHECKING:
    from wheelhub.server.sqlite import SqlStorage

log = get_logger("server")

LOCK_NAME = ".wheelhub-static.lock"
# (json, gzip) -> the file a page is written to, for nginx's negotiation and gzip_static.
PAGE_FILES = {(False, False): "index.html", (False, True): "index.html.gz",
              (True, False): "index.json", (True, True): "index.json.gz"}


def _replace(path: Path, data: bytes) -> None:
    """Write *path* whole via a temp file and rename. No fsync: the tree is rebuilt from
    the database at startup, so a crash loses nothing, and uploads don't wait on disks."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def _remove_tree(path: Path) -> None:
    """Rename away first, so nginx sees the directory whole or gone."""
    if not path.exists():
        return
    gone = path.with_name(f".{path.name}.{secrets.token_hex(4)}.gone")
    os.replace(path, gone)
    shutil.rmtree(gone, ignore_errors=True)


class StaticMirror:
    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)
            probe = root / f".probe-{secrets.token_hex(4)}"
            probe.write_bytes(b"")
            probe.unlink()
            self._lock = os.open(root / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o644)
            self._threads = threading.Lock()  # flock excludes processes, not threads
        except OSError as error:
            raise StaticDirError.not_writable(root, error.strerror or str(error)) from error

    def close(self) -> None:
        os.close(self._lock)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._threads:
            fcntl.flock(self._lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock, fcntl.LOCK_UN)

    def label_dir(self, owner: str, label: str) -> Path:
        return self.root / urls.label_path(owner, label).lstrip("/")

    def apply(self, storage: SqlStorage, changed: Mapping[tuple[str, str], set[str] | None]) -> None:
        """Bring the changed labels' pages (None: every page of the label) up to date.
        A failure is logged, not raised: the transaction has committed and the hub serves
        the change; the next change or restart writes the tree again."""
        try:
            with self._locked():
                for (owner, label), projects in changed.items():
                    self._label(storage, owner, label, projects)
        except OSError:
            log.exception("static dir %s: could not write %s", self.root, sorted(changed))

    def rebuild(self, storage: SqlStorage) -> None:
        """Every public label written, everything else removed."""
        with self._locked():
            keep: set[Path] = set()
            for owner in storage.list_owners():
                for label in storage.list_labels(owner.name):
                    if self._label(storage, owner.name, label.name, None):
                        keep.add(self.label_dir(owner.name, label.name))
            for stale in self._label_dirs() - keep:
                self._remove_label(stale)
        log.info("static dir %s: %d public label(s) written", self.root, len(keep))

    def _label_dirs(self) -> set[Path]:
        found: set[Path] = set()
        for owner in (p for p in self.root.iterdir() if p.is_dir() and p.name[0] != "."):
            if (owner / urls.SIMPLE_SEGMENT).exists() or (owner / urls.FILES_SEGMENT).exists():
                found.add(owner)
            labels = owner / urls.LABEL_SEGMENT
            if labels.is_dir():
                found |= {p for p in labels.iterdir() if p.name[0] != "."}
        return found

    def _remove_label(self, base: Path) -> None:
        """A label's pages and files; label main shares its owner's directory with the
        others, so only its own two subdirectories go."""
        for part in (urls.SIMPLE_SEGMENT, urls.FILES_SEGMENT):
            _remove_tree(base / part)
        if base.parent.name == urls.LABEL_SEGMENT:
            _remove_tree(base)

    def _label(self, storage: SqlStorage, owner: str, label: str,
               projects: set[str] | None) -> bool:
        """Write (or remove) one label's changed pages; whether it is in the tree now."""
        base = self.label_dir(owner, label)
        lookup = storage.page(owner, label, "", json=False, gzip=False)
        shown = lookup.visibility
        if not shown.label_exists or shown.private or lookup.upstream is not None:
            self._remove_label(base)
            return False
        if projects is None:
            simple = base / urls.SIMPLE_SEGMENT
            on_disk = {p.name for p in simple.iterdir() if p.is_dir()} if simple.is_dir() else set()
            projects = {*storage.page_projects(owner, label), *on_disk, ""}
        for project in sorted(projects, key=bool, reverse=True):  # the index last
            self._project(storage, owner, label, base, project)
        return True

    def _project(self, storage: SqlStorage, owner: str, label: str, base: Path,
                 project: str) -> None:
        page_dir = base / urls.SIMPLE_SEGMENT / project if project else base / urls.SIMPLE_SEGMENT
        files_dir = base / urls.FILES_SEGMENT
        before = _linked(page_dir / PAGE_FILES[(True, False)])
        pages = storage.page_variants(owner, label, project)
        now: set[str] = set()
        if pages is not None:
            if project:
                files_dir.mkdir(parents=True, exist_ok=True)
                for record in storage.page_files(owner, label, project):
                    self._link(storage, owner, label, files_dir, record.filename, record.sha256)
                    now.add(record.filename)
            page_dir.mkdir(parents=True, exist_ok=True)
            for kind, name in PAGE_FILES.items():
                _replace(page_dir / name, pages[kind])
        elif project:
            _remove_tree(page_dir)
        for filename in before - now:
            for name in (filename, f"{filename}{METADATA_SUFFIX}"):
                with contextlib.suppress(FileNotFoundError):
                    (files_dir / name).unlink()

    @staticmethod
    def _link(storage: SqlStorage, owner: str, label: str, files_dir: Path, filename: str,
              sha256: str) -> None:
        blob, target = storage.blob_path(sha256), files_dir / filename
        with contextlib.suppress(FileNotFoundError):
            if blob.samefile(target):
                return
        temp = files_dir / f".{filename}.{secrets.token_hex(4)}.tmp"
        try:
            os.link(blob, temp)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            shutil.copyfile(blob, temp)
        os.replace(temp, target)
        metadata = storage.core_metadata(owner, label, filename)
        if metadata is not None:
            _replace(files_dir / f"{filename}{METADATA_SUFFIX}", metadata)


def _linked(json_page: Path) -> set[str]:
    """The filenames a PEP 691 page on disk links to (none when there is no page)."""
    try:
        data = json.loads(json_page.read_bytes())
    except (FileNotFoundError, ValueError):
        return set()
    return {str(f["filename"]) for f in data.get("files", []) if isinstance(f, dict)}
