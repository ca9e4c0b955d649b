"""The embedded storage: SQLite (WAL) for metadata, content-addressed files under ``root``.

Layout under ``root``::

    hub.sqlite3            owners, labels, files, label membership, pages, token hashes
    blobs/ab/<sha256>      every stored archive, once, named by its SHA-256
    tmp/                   uploads being written (never served; a dead process's are
                           removed at startup)
    run/<tag>.lock         held by each process using the root: its tmp files are live

Writes follow one rule: the bytes are written to ``tmp/``, fsynced and renamed into
``blobs/`` *before* the transaction that references them commits, and blobs are only
unlinked under the write lock after the rows referencing them are gone. So a crash
leaves at worst an unreferenced blob (collected later), never a row without its file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import fnmatch
import json
import os
import secrets
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from packaging.version import InvalidVersion, Version

from wheelhub.errors import UsageError
from wheelhub.index.dists import parse_dist_filename
from wheelhub.index.names import DEFAULT_LABEL, check_label, check_owner, normalize_project
from wheelhub.index.simple import (
    IndexFile,
    RenderedPage,
    dump_files,
    load_files,
    render_index,
    render_project,
)
from wheelhub.server.errors import HubNotFound, LabelConflict, SchemaTooNew, UploadConflict

if TYPE_CHECKING:
    from wheelhub.server.static import StaticMirror
from wheelhub.server.storage import (
    AddOutcome,
    AuditEvent,
    CachedUpstreamPage,
    Delivery,
    FileRecord,
    ImportItem,
    Label,
    NewFile,
    Owner,
    Page,
    PageLookup,
    PromoteResult,
    Provenance,
    PruneItem,
    RetentionRule,
    Scope,
    Selection,
    TokenRecord,
    Upstream,
    Visibility,
    Webhook,
)
from wheelhub.util.log import get_logger

log = get_logger("server")

CACHE_KIB = 16 * 1024  # page cache per connection
MMAP_BYTES = 256 * 1024 * 1024  # reads of a large database go through the page cache
SCHEMA = """
CREATE TABLE IF NOT EXISTS owners(
    id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,
    private INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS labels(
    id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL, name TEXT NOT NULL,
    private INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, UNIQUE(owner_id, name));
CREATE TABLE IF NOT EXISTS files(
    id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL, filename TEXT NOT NULL,
    project TEXT NOT NULL, display_name TEXT NOT NULL, version TEXT NOT NULL,
    kind TEXT NOT NULL, python_tags TEXT NOT NULL, platform_tags TEXT NOT NULL,
    size INTEGER NOT NULL, sha256 TEXT NOT NULL, md5 TEXT NOT NULL, blake2_256 TEXT NOT NULL,
    requires_python TEXT, summary TEXT, metadata BLOB NOT NULL, metadata_sha256 TEXT NOT NULL,
    uploaded REAL NOT NULL, UNIQUE(owner_id, filename));
CREATE INDEX IF NOT EXISTS files_sha256 ON files(sha256);
CREATE TABLE IF NOT EXISTS label_files(
    label_id INTEGER NOT NULL, file_id INTEGER NOT NULL, project TEXT NOT NULL,
    added REAL NOT NULL, yanked TEXT, PRIMARY KEY(label_id, file_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS label_files_project ON label_files(label_id, project);
CREATE INDEX IF NOT EXISTS label_files_file ON label_files(file_id);
CREATE TABLE IF NOT EXISTS pages(
    label_id INTEGER NOT NULL, project TEXT NOT NULL, etag TEXT NOT NULL,
    html BLOB NOT NULL, html_gz BLOB NOT NULL, json BLOB NOT NULL, json_gz BLOB NOT NULL,
    PRIMARY KEY(label_id, project)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens(
    id INTEGER PRIMARY KEY, hash TEXT UNIQUE NOT NULL, owner_id INTEGER NOT NULL,
    scope INTEGER NOT NULL, label_glob TEXT, expires REAL, revoked REAL, created REAL NOT NULL,
    hint TEXT NOT NULL, description TEXT NOT NULL DEFAULT '');
"""
# Every statement is idempotent: two processes opening an old database at once both
# run the step, and the second one changes nothing.
LABEL_BASES_UPSTREAM = """
CREATE TABLE IF NOT EXISTS label_bases(
    label_id INTEGER NOT NULL, position INTEGER NOT NULL, base_id INTEGER NOT NULL,
    PRIMARY KEY(label_id, position)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS label_bases_base ON label_bases(base_id);
CREATE TABLE IF NOT EXISTS owner_projects(
    owner_id INTEGER NOT NULL, project TEXT NOT NULL,
    PRIMARY KEY(owner_id, project)) WITHOUT ROWID;
INSERT OR IGNORE INTO owner_projects(owner_id, project) SELECT DISTINCT owner_id, project FROM files;
CREATE TABLE IF NOT EXISTS upstreams(
    owner_id INTEGER PRIMARY KEY, url TEXT NOT NULL, allow TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS upstream_pages(
    upstream TEXT NOT NULL, project TEXT NOT NULL, fetched REAL NOT NULL, etag TEXT,
    files TEXT NOT NULL, page_etag TEXT NOT NULL, html BLOB NOT NULL, html_gz BLOB NOT NULL,
    json BLOB NOT NULL, json_gz BLOB NOT NULL, PRIMARY KEY(upstream, project)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS upstream_files(
    upstream TEXT NOT NULL, filename TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
    PRIMARY KEY(upstream, filename)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS upstream_files_sha256 ON upstream_files(sha256);
CREATE TABLE IF NOT EXISTS hub_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO hub_meta(key, value) VALUES ('hub_id', lower(hex(randomblob(16))));
"""
# Build cache records (wheelhub.server.cache): per owner, found by the entry's pre-key.
CACHE_RECORDS_SCHEMA = """
CREATE TABLE IF NOT EXISTS cache_records(
    owner_id INTEGER NOT NULL, prekey TEXT NOT NULL, key TEXT NOT NULL, label TEXT NOT NULL,
    record TEXT NOT NULL, stored REAL NOT NULL, PRIMARY KEY(owner_id, prekey, key)) WITHOUT ROWID;
"""
# Label lifecycle (issue 14): provenance and test verdicts per file, retention rules, the
# append-only audit log (triggers refuse UPDATE and DELETE), webhooks and their outbox.
LABEL_LIFECYCLE = """
CREATE TABLE IF NOT EXISTS file_provenance(
    file_id INTEGER PRIMARY KEY, verdict TEXT NOT NULL, details TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS retention_rules(
    owner_id INTEGER NOT NULL, label_glob TEXT NOT NULL, keep_versions INTEGER, max_age REAL,
    created REAL NOT NULL,
    PRIMARY KEY(owner_id, label_glob)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_events(
    id INTEGER PRIMARY KEY, time REAL NOT NULL, owner TEXT NOT NULL, label TEXT NOT NULL,
    action TEXT NOT NULL, actor_id INTEGER, actor TEXT NOT NULL, address TEXT NOT NULL,
    files TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_events_owner_time ON audit_events(owner, time);
CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS webhooks(
    id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL, url TEXT NOT NULL, events TEXT NOT NULL,
    secret TEXT NOT NULL, secret_env TEXT NOT NULL, created REAL NOT NULL, removed REAL);
CREATE TABLE IF NOT EXISTS webhook_deliveries(
    id INTEGER PRIMARY KEY, webhook_id INTEGER NOT NULL, event_id INTEGER NOT NULL,
    action TEXT NOT NULL, payload BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL, state TEXT NOT NULL, last_status TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries(state, next_attempt);
"""


@dataclass(frozen=True, kw_only=True, slots=True)
class Migration:
    """One schema step; a database at ``PRAGMA user_version`` N gets every step above N."""

    version: int
    name: str
    sql: str


# In order. Each step's SQL is idempotent (IF NOT EXISTS), so a race between two openers
# of a fresh database is harmless.
MIGRATIONS = (
    Migration(version=1, name="base", sql=SCHEMA),
    Migration(version=2, name="label bases / owner upstream", sql=LABEL_BASES_UPSTREAM),
    Migration(version=3, name="label lifecycle", sql=LABEL_LIFECYCLE),
    Migration(version=4, name="build cache records", sql=CACHE_RECORDS_SCHEMA),
)
SCHEMA_VERSION = MIGRATIONS[-1].version
MAX_BASE_DEPTH = 16  # bases of bases: a chain deeper than this is refused as a likely mistake

_FILE_COLUMNS = ("f.filename, f.project, f.display_name, f.version, f.kind, f.python_tags, "
                 "f.platform_tags, f.size, f.sha256, f.md5, f.blake2_256, f.requires_python, "
                 "f.summary, f.metadata_sha256, f.uploaded, lf.yanked")
_PAGE_COLUMNS = {(False, False): "html", (False, True): "html_gz",
                 (True, False): "json", (True, True): "json_gz"}
INDEX = ""  # the project key under which a label's /simple/ page is stored


def _record(row: tuple[object, ...]) -> FileRecord:
    (filename, project, display, version, kind, pys, plats, size, sha256, md5, blake2,
     requires, summary, meta_sha, uploaded, yanked) = row
    return FileRecord(
        filename=str(filename), project=str(project), display_name=str(display),
        version=str(version), kind=str(kind), python_tags=tuple(str(pys).split(",")),
        platform_tags=tuple(str(plats).split(",")), size=int(str(size)), sha256=str(sha256),
        md5=str(md5), blake2_256=str(blake2),
        requires_python=None if requires is None else str(requires),
        summary=None if summary is None else str(summary),
        metadata_sha256=str(meta_sha) or None,
        uploaded=float(str(uploaded)), yanked=None if yanked is None else str(yanked))


def _upstream(url: object, allow: object) -> Upstream | None:
    if url is None:
        return None
    return Upstream(url=str(url), allow=frozenset(a for a in str(allow or "").split(",") if a))


def _normalize_version(text: str) -> str:
    try:
        return str(Version(text))
    except InvalidVersion:
        return text


def _fsync(path: Path) -> None:
    """fsync a file, or a directory (so a rename into it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Rows(Protocol):
    """What a statement returns, as both backends' cursors provide it."""

    @property
    def rowcount(self) -> int: ...
    @property
    def lastrowid(self) -> int | None: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """A connection as :class:`SqlStorage` uses it: SQLite's SQL text, ``?`` placeholders."""

    def execute(self, sql: str, parameters: Any = (), /) -> Rows: ...
    def executemany(self, sql: str, parameters: Any, /) -> Rows: ...


def _in_position_order(aggregated: str | None) -> tuple[str, ...]:
    """``"1:b,0:a"`` (an unordered aggregate of ``position:name``) -> ("a", "b")."""
    if not aggregated:
        return ()
    pairs = (item.split(":", 1) for item in aggregated.split(","))
    return tuple(name for _, name in sorted((int(position), name) for position, name in pairs))


class SqlStorage:
    """:class:`wheelhub.server.storage.Storage` on SQL + content-addressed files under *root*.

    Every query is written once, in SQLite's dialect; a backend provides connections
    (:meth:`_conn`), write transactions that exclude each other (:meth:`_write`), and
    translates the SQL if it speaks another dialect (:mod:`wheelhub.server.postgres`).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.tmp = root / "tmp"
        self.run = root / "run"
        for directory in (root, self.blobs, self.tmp, self.run):
            directory.mkdir(parents=True, exist_ok=True)
        # Names this process's temp files; the lock it holds tells every other process
        # on the root (another instance, a worker) that they are still being written.
        self.tag = f"{os.getpid()}x{secrets.token_hex(4)}"
        self._alive = os.open(self.run / f"{self.tag}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._alive, fcntl.LOCK_EX)
        # Where public pages are mirrored after each commit (``serve --static-dir``), and
        # the labels this thread's open transaction changed: {(owner, label): projects},
        # None for the whole label (its visibility changed, or it went).
        self.static: StaticMirror | None = None
        self._changes = threading.local()

    def _release_run_lock(self) -> None:
        """What every backend's close releases besides its connections."""
        if self.static is not None:
            self.static.close()
            self.static = None
        if self._alive >= 0:
            with contextlib.suppress(FileNotFoundError):
                (self.run / f"{self.tag}.lock").unlink()
            os.close(self._alive)
            self._alive = -1

    def _conn(self) -> Conn:
        raise NotImplementedError

    def _transaction(self) -> contextlib.AbstractContextManager[Conn]:
        raise NotImplementedError

    @contextlib.contextmanager
    def _write(self) -> Iterator[Conn]:
        """A write transaction (excluding other writers); after it commits, the static
        mirror gets the pages it changed."""
        self._changes.labels = {}
        try:
            with self._transaction() as tx:
                yield tx
            changed: dict[tuple[str, str], set[str] | None] = self._changes.labels
        finally:
            self._changes.labels = {}
        if changed and self.static is not None:
            self.static.apply(self, changed)

    def _touch(self, conn: Conn, label_id: int, project: str | None) -> None:
        """Note for the static mirror that *project*'s page (None: the whole label) changed."""
        if self.static is None:
            return
        row = conn.execute("SELECT o.name, l.name FROM labels l JOIN owners o "
                           "ON o.id=l.owner_id WHERE l.id=?", (label_id,)).fetchone()
        if row is None:
            return
        labels: dict[tuple[str, str], set[str] | None] = self._changes.labels
        key = (str(row[0]), str(row[1]))
        if project is None:
            labels[key] = None
        elif (projects := labels.setdefault(key, set())) is not None:
            projects.add(project)

    def page_variants(self, owner: str, label: str,
                      project: str) -> dict[tuple[bool, bool], bytes] | None:
        """All four stored bodies of a page, by (json, gzip), in one read (None: no page)."""
        row = self._conn().execute(
            f"SELECT {', '.join('p.' + c for c in _PAGE_COLUMNS.values())} "  # noqa: S608
            "FROM pages p JOIN labels l ON l.id=p.label_id JOIN owners o ON o.id=l.owner_id "
            "WHERE o.name=? AND l.name=? AND p.project=?", (owner, label, project)).fetchone()
        return None if row is None else {kind: bytes(body) for kind, body in
                                         zip(_PAGE_COLUMNS, row, strict=True)}

    def page_projects(self, owner: str, label: str) -> list[str]:
        """The projects with a page in the label (INDEX for its /simple/ page)."""
        rows = self._conn().execute(
            "SELECT p.project FROM pages p JOIN labels l ON l.id=p.label_id JOIN owners o "
            "ON o.id=l.owner_id WHERE o.name=? AND l.name=?", (owner, label))
        return sorted(str(r[0]) for r in rows)

    def close(self) -> None:
        raise NotImplementedError

    # -- owners and labels ------------------------------------------------------------

    def create_owner(self, name: str, *, private: bool = False, exist_ok: bool = False) -> Owner:
        check_owner(name)
        with self._write() as tx:
            row = tx.execute("SELECT private, created FROM owners WHERE name=?", (name,)).fetchone()
            if row is not None:
                if not exist_ok:
                    raise UsageError(f"owner '{name}' already exists")
                return Owner(name=name, private=bool(row[0]), created=row[1])
            now = time.time()
            tx.execute("INSERT INTO owners(name, private, created) VALUES (?, ?, ?)",
                       (name, int(private), now))
            self._label_id(tx, name, DEFAULT_LABEL, create=True)  # every owner has "main"
        return Owner(name=name, private=private, created=now)

    def get_owner(self, name: str) -> Owner | None:
        row = self._conn().execute("SELECT private, created FROM owners WHERE name=?",
                                   (name,)).fetchone()
        return None if row is None else Owner(name=name, private=bool(row[0]), created=row[1])

    def list_owners(self) -> list[Owner]:
        rows = self._conn().execute("SELECT name, private, created FROM owners ORDER BY name")
        return [Owner(name=r[0], private=bool(r[1]), created=r[2]) for r in rows]

    def set_owner_private(self, name: str, private: bool) -> None:
        with self._write() as tx:
            if tx.execute("UPDATE owners SET private=? WHERE name=?",
                          (int(private), name)).rowcount == 0:
                raise HubNotFound.owner(name)
            self._touch_owner(tx, self._owner_id(tx, name))

    def _touch_owner(self, tx: Conn, owner_id: int) -> None:
        """Every label of the owner changed for the static mirror (visibility, upstream)."""
        for (label_id,) in tx.execute("SELECT id FROM labels WHERE owner_id=?",
                                      (owner_id,)).fetchall():
            self._touch(tx, int(label_id), None)

    def _owner_id(self, conn: Conn, owner: str) -> int:
        row = conn.execute("SELECT id FROM owners WHERE name=?", (owner,)).fetchone()
        if row is None:
            raise HubNotFound.owner(owner)
        return int(row[0])

    def _label_id(self, conn: Conn, owner: str, label: str, *,
                  create: bool = False, private: bool = False) -> int:
        owner_id = self._owner_id(conn, owner)
        row = conn.execute("SELECT id FROM labels WHERE owner_id=? AND name=?",
                           (owner_id, label)).fetchone()
        if row is not None:
            return int(row[0])
        if not create:
            raise HubNotFound.label(owner, label)
        check_label(label)
        cursor = conn.execute("INSERT INTO labels(owner_id, name, private, created) "
                              "VALUES (?, ?, ?, ?)", (owner_id, label, int(private), time.time()))
        label_id = int(cursor.lastrowid or 0)
        self._store_page(conn, label_id, INDEX, render_index([]))
        log.info("created label %s/%s", owner, label)
        return label_id

    def create_label(self, owner: str, label: str, *, private: bool = False,
                     bases: Sequence[str] = ()) -> Label:
        with self._write() as tx:
            if tx.execute("SELECT 1 FROM labels l JOIN owners o ON o.id=l.owner_id "
                          "WHERE o.name=? AND l.name=?", (owner, label)).fetchone():
                raise UsageError(f"label '{owner}/{label}' already exists",
                                 hint="change its bases with `wheelhub label bases`")
            label_id = self._label_id(tx, owner, label, create=True, private=private)
            if bases:
                self._set_bases(tx, owner, label, label_id, bases)
        return next(lab for lab in self.list_labels(owner) if lab.name == label)

    def set_bases(self, owner: str, label: str, bases: Sequence[str]) -> None:
        with self._write() as tx:
            self._set_bases(tx, owner, label, self._label_id(tx, owner, label), bases)

    def _set_bases(self, tx: Conn, owner: str, label: str, label_id: int,
                   bases: Sequence[str]) -> None:
        """Replace the label's bases (checked: same owner, existing, no cycle) and
        re-render its pages and those of every label built on it."""
        base_ids: list[int] = []
        for base in bases:
            if "/" in base:
                raise UsageError(f"base '{base}' names another owner's label",
                                 hint=f"bases are labels of '{owner}': give their names only")
            check_label(base)
            if base == label:
                raise UsageError(f"label '{owner}/{label}' cannot be its own base")
            base_id = self._label_id(tx, owner, base)
            if label_id in self._chain(tx, base_id):
                raise UsageError(f"bases of '{owner}/{label}' would form a cycle through "
                                 f"'{base}'", hint=f"'{base}' already falls back to '{label}'")
            if base_id not in base_ids:
                base_ids.append(base_id)
        before = self._chain_projects(tx, label_id)
        tx.execute("DELETE FROM label_bases WHERE label_id=?", (label_id,))
        tx.executemany("INSERT INTO label_bases(label_id, position, base_id) VALUES (?, ?, ?)",
                       [(label_id, i, b) for i, b in enumerate(base_ids)])
        if len(self._chain(tx, label_id)) > MAX_BASE_DEPTH:
            raise UsageError(f"bases of '{owner}/{label}' chain more than {MAX_BASE_DEPTH} "
                             "labels", hint="point it at fewer, flatter bases")
        self._refresh(tx, label_id, before | self._chain_projects(tx, label_id), index=True)

    def _bases(self, conn: Conn, label_id: int) -> list[int]:
        return [int(r[0]) for r in conn.execute(
            "SELECT base_id FROM label_bases WHERE label_id=? ORDER BY position", (label_id,))]

    def _chain(self, conn: Conn, label_id: int) -> list[int]:
        """The label, then its bases depth-first in order, each once: the order in which
        a filename is looked up (the first label that has it wins)."""
        chain: list[int] = []
        pending = [label_id]
        while pending:
            current = pending.pop(0)
            if current in chain:
                continue
            chain.append(current)
            pending[:0] = self._bases(conn, current)
        return chain

    def _dependents(self, conn: Conn, label_id: int) -> list[int]:
        """Labels whose chain includes *label_id* (its own pages change with it)."""
        found: list[int] = []
        pending = [label_id]
        while pending:
            current = pending.pop()
            for (dependent,) in conn.execute(
                    "SELECT DISTINCT label_id FROM label_bases WHERE base_id=?", (current,)):
                if dependent not in found and dependent != label_id:
                    found.append(int(dependent))
                    pending.append(int(dependent))
        return found

    def _chain_projects(self, conn: Conn, label_id: int) -> set[str]:
        chain = self._chain(conn, label_id)
        marks = ",".join("?" * len(chain))
        return {str(r[0]) for r in conn.execute(
            f"SELECT DISTINCT project FROM label_files WHERE label_id IN ({marks})",  # noqa: S608
            chain)}

    def list_labels(self, owner: str) -> list[Label]:
        conn = self._conn()
        owner_id = self._owner_id(conn, owner)
        rows = conn.execute(
            "SELECT l.name, l.private, l.created, COUNT(lf.file_id), COUNT(DISTINCT lf.project), "
            # group_concat's order is SQLite's choice and string_agg's PostgreSQL's: each
            # base carries its position, and Python puts them in order.
            "(SELECT group_concat(lb.position || ':' || b.name, ',') FROM label_bases lb "
            " JOIN labels b ON b.id=lb.base_id WHERE lb.label_id=l.id), "
            "COALESCE(SUM(f.size), 0), MAX(lf.added) "
            "FROM labels l LEFT JOIN label_files lf ON lf.label_id=l.id "
            "LEFT JOIN files f ON f.id=lf.file_id WHERE l.owner_id=? "
            "GROUP BY l.id ORDER BY l.name", (owner_id,))
        return [Label(owner=owner, name=r[0], private=bool(r[1]), created=r[2], files=r[3],
                      projects=r[4], bases=_in_position_order(r[5]),
                      size=int(r[6]), last_upload=r[7]) for r in rows]

    def set_label_private(self, owner: str, label: str, private: bool) -> None:
        with self._write() as tx:
            label_id = self._label_id(tx, owner, label)
            tx.execute("UPDATE labels SET private=? WHERE id=?", (int(private), label_id))
            self._touch(tx, label_id, None)

    def visibility(self, owner: str, label: str) -> Visibility:
        row = self._conn().execute(
            "SELECT o.private, l.id, l.private FROM owners o LEFT JOIN labels l "
            "ON l.owner_id=o.id AND l.name=? WHERE o.name=?", (label, owner)).fetchone()
        if row is None:
            return Visibility(owner_exists=False, owner_private=False, label_exists=False,
                              label_private=False)
        return Visibility(owner_exists=True, owner_private=bool(row[0]),
                          label_exists=row[1] is not None, label_private=bool(row[2]))

    # -- pages ------------------------------------------------------------------------

    def page(self, owner: str, label: str, project: str, *, json: bool,
             gzip: bool) -> PageLookup:
        column = _PAGE_COLUMNS[(json, gzip)]
        row = self._conn().execute(
            f"SELECT o.private, l.id, l.private, p.etag, p.{column}, u.url, u.allow, "  # noqa: S608
            "op.project FROM owners o "
            "LEFT JOIN labels l ON l.owner_id=o.id AND l.name=? "
            "LEFT JOIN pages p ON p.label_id=l.id AND p.project=? "
            "LEFT JOIN upstreams u ON u.owner_id=o.id "
            "LEFT JOIN owner_projects op ON op.owner_id=o.id AND op.project=? WHERE o.name=?",
            (label, project, project, owner)).fetchone()
        if row is None:
            return PageLookup(visibility=Visibility(owner_exists=False, owner_private=False,
                                                    label_exists=False, label_private=False),
                              page=None)
        visibility = Visibility(owner_exists=True, owner_private=bool(row[0]),
                                label_exists=row[1] is not None, label_private=bool(row[2]))
        page = None if row[3] is None else Page(etag=row[3], body=row[4])
        return PageLookup(visibility=visibility, page=page, upstream=_upstream(row[5], row[6]),
                          owned=row[7] is not None)

    def page_files(self, owner: str, label: str, project: str) -> list[IndexFile]:
        conn = self._conn()
        return [r.index_file() for r in self._chain_files(
            conn, self._label_id(conn, owner, label), project)]

    def _chain_files(self, conn: Conn, label_id: int,
                     project: str) -> list[FileRecord]:
        """The project's files in the label and its bases; a filename the label (or an
        earlier base) has hides the same filename further down the chain."""
        seen: dict[str, FileRecord] = {}
        for member in self._chain(conn, label_id):
            for row in conn.execute(
                    f"SELECT {_FILE_COLUMNS} FROM label_files lf JOIN files f "  # noqa: S608
                    "ON f.id=lf.file_id WHERE lf.label_id=? AND lf.project=?", (member, project)):
                record = _record(row)
                seen.setdefault(record.filename, record)
        return list(seen.values())

    def _store_page(self, conn: Conn, label_id: int, project: str,
                    page: RenderedPage) -> None:
        conn.execute("INSERT OR REPLACE INTO pages(label_id, project, etag, html, html_gz, json, "
                     "json_gz) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (label_id, project, page.etag, page.html, page.html_gz, page.json,
                      page.json_gz))
        self._touch(conn, label_id, project)

    def _refresh(self, conn: Conn, label_id: int, projects: set[str], *,
                 index: bool = False) -> None:
        """Re-render the pages of *projects* in a label and in every label built on it,
        and their indexes if a project appeared or went (or *index*)."""
        for member in [label_id, *self._dependents(conn, label_id)]:
            self._render(conn, member, projects, index=index)

    def _render(self, conn: Conn, label_id: int, projects: set[str], *,
                index: bool) -> None:
        index_changed = index
        for project in projects:
            records = self._chain_files(conn, label_id, project)
            had = conn.execute("SELECT 1 FROM pages WHERE label_id=? AND project=?",
                               (label_id, project)).fetchone() is not None
            if records:
                self._store_page(conn, label_id, project,
                                 render_project(project, [r.index_file() for r in records]))
            else:
                conn.execute("DELETE FROM pages WHERE label_id=? AND project=?",
                             (label_id, project))
                self._touch(conn, label_id, project)
            index_changed |= had != bool(records)
        if index_changed:
            chain = self._chain(conn, label_id)
            marks = ",".join("?" * len(chain))
            names = conn.execute(
                "SELECT lf.project, MAX(f.display_name) FROM label_files lf "  # noqa: S608
                f"JOIN files f ON f.id=lf.file_id WHERE lf.label_id IN ({marks}) "
                "GROUP BY lf.project", chain).fetchall()
            self._store_page(conn, label_id, INDEX, render_index((n, d) for n, d in names))

    # -- files ------------------------------------------------------------------------

    def blob_path(self, sha256: str) -> Path:
        return self.blobs / sha256[:2] / sha256

    def temp_file(self) -> tuple[BinaryIO, Path]:
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix=f"upload-{self.tag}-", suffix=".part")
        return os.fdopen(fd, "wb"), Path(name)

    def add_file(self, owner: str, label: str, new: NewFile, *,
                 create_label: bool) -> AddOutcome:
        record = new.record
        temp = new.path
        try:
            _fsync(temp)
            with self._write() as tx:
                label_id = self._label_id(tx, owner, label, create=create_label)
                owner_id = self._owner_id(tx, owner)
                row = self._same_release_file(tx, owner_id, record)
                if row is not None:
                    if row[1] != record.sha256:
                        raise UploadConflict.for_file(owner, record.filename)
                    self._set_provenance(tx, row[0], new.provenance)
                    linked = tx.execute(
                        "INSERT OR IGNORE INTO label_files(label_id, file_id, project, added) "
                        "VALUES (?, ?, ?, ?)", (label_id, row[0], record.project, time.time()))
                    if linked.rowcount == 0:
                        return AddOutcome.UNCHANGED
                    self._refresh(tx, label_id, {record.project})
                    return AddOutcome.LINKED
                file_id = self._insert_file(tx, owner_id, new)
                tx.execute("INSERT INTO label_files(label_id, file_id, project, added) "
                           "VALUES (?, ?, ?, ?)",
                           (label_id, file_id, record.project, record.uploaded))
                self._refresh(tx, label_id, {record.project})
                return AddOutcome.CREATED
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    def _insert_file(self, tx: Conn, owner_id: int, new: NewFile) -> int:
        """Move *new*'s bytes into ``blobs/`` and add its row (inside the caller's transaction)."""
        record = new.record
        target = self.blob_path(record.sha256)
        target.parent.mkdir(exist_ok=True)
        new.path.replace(target)
        _fsync(target.parent)
        cursor = tx.execute(
            "INSERT INTO files(owner_id, filename, project, display_name, version, kind, "
            "python_tags, platform_tags, size, sha256, md5, blake2_256, requires_python, "
            "summary, metadata, metadata_sha256, uploaded) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (owner_id, record.filename, record.project, record.display_name,
             record.version, record.kind, ",".join(record.python_tags),
             ",".join(record.platform_tags), record.size, record.sha256, record.md5,
             record.blake2_256, record.requires_python, record.summary, new.metadata,
             record.metadata_sha256 or "", record.uploaded))
        file_id = int(cursor.lastrowid or 0)
        self._set_provenance(tx, file_id, new.provenance)
        tx.execute("INSERT OR IGNORE INTO owner_projects(owner_id, project) VALUES (?, ?)",
                   (owner_id, record.project))  # kept after removal: the name rule
        return file_id

    @staticmethod
    def _same_release_file(tx: Conn, owner_id: int,
                           record: FileRecord) -> tuple[int, str] | None:
        """(id, sha256) of the stored file that is *record*'s release file under any
        spelling (one release file, one set of bytes), or None."""
        identity = parse_dist_filename(record.filename).identity
        for file_id, sha256, filename in tx.execute(
                "SELECT id, sha256, filename FROM files WHERE owner_id=? AND project=?",
                (owner_id, record.project)):
            if filename == record.filename or parse_dist_filename(filename).identity == identity:
                return int(file_id), str(sha256)
        return None

    def _chain_file(self, owner: str, label: str, filename: str,
                    columns: str) -> tuple[object, ...] | None:
        """*columns* of the first file named *filename* in the label's chain."""
        conn = self._conn()
        row = conn.execute("SELECT l.id FROM owners o JOIN labels l ON l.owner_id=o.id "
                           "WHERE o.name=? AND l.name=?", (owner, label)).fetchone()
        if row is None:
            return None
        for member in self._chain(conn, int(row[0])):
            found: tuple[object, ...] | None = conn.execute(
                f"SELECT {columns} FROM label_files lf JOIN files f "  # noqa: S608
                "ON f.id=lf.file_id WHERE lf.label_id=? AND f.filename=?",
                (member, filename)).fetchone()
            if found is not None:
                return found
        return None

    def find_file(self, owner: str, label: str, filename: str) -> FileRecord | None:
        row = self._chain_file(owner, label, filename, _FILE_COLUMNS)
        return None if row is None else _record(row)

    # -- build cache records (wheelhub.server.cache) -------------------------------------

    def cache_records(self, owner: str, prekey: str) -> list[tuple[str, str]]:
        return [(str(label), str(record)) for label, record in self._conn().execute(
            "SELECT c.label, c.record FROM cache_records c JOIN owners o ON o.id=c.owner_id "
            "WHERE o.name=? AND c.prekey=? ORDER BY c.stored DESC", (owner, prekey))]

    def store_cache_records(self, owner: str, label: str,
                            records: Sequence[tuple[str, str, str]]) -> None:
        with self._write() as tx:
            owner_id = self._owner_id(tx, owner)
            now = time.time()
            tx.executemany("INSERT OR REPLACE INTO cache_records(owner_id, prekey, key, label, "
                           "record, stored) VALUES (?, ?, ?, ?, ?, ?)",
                           [(owner_id, prekey, key, label, record, now)
                            for prekey, key, record in records])

    def file_labels(self, owner: str, filename: str) -> list[str]:
        return [str(row[0]) for row in self._conn().execute(
            "SELECT l.name FROM owners o JOIN files f ON f.owner_id=o.id "
            "JOIN label_files lf ON lf.file_id=f.id JOIN labels l ON l.id=lf.label_id "
            "WHERE o.name=? AND f.filename=? ORDER BY l.name", (owner, filename))]

    def core_metadata(self, owner: str, label: str, filename: str, *,
                      served: bool = True) -> bytes | None:
        """The file's core metadata; with *served*, only where the index offers it (PEP 658)."""
        row = self._chain_file(owner, label, filename, "f.metadata, f.metadata_sha256")
        if row is None or not isinstance(row[0], bytes) or (served and not row[1]):
            return None
        return row[0]

    def _select(self, selection: Selection) -> tuple[str, list[object]]:
        where: list[str] = []
        args: list[object] = []
        if selection.project is not None:
            where.append("lf.project=?")
            args.append(normalize_project(selection.project))
        if selection.version is not None:
            where.append("f.version=?")
            args.append(_normalize_version(selection.version))
        if selection.filename is not None:
            where.append("f.filename=?")
            args.append(selection.filename)
        return "".join(f" AND {clause}" for clause in where), args

    def list_files(self, owner: str, label: str,
                   selection: Selection | None = None) -> list[FileRecord]:
        conn = self._conn()
        label_id = self._label_id(conn, owner, label)
        clauses, args = self._select(selection or Selection())
        query = (f"SELECT {_FILE_COLUMNS} FROM label_files lf JOIN files f "  # noqa: S608
                 f"ON f.id=lf.file_id WHERE lf.label_id=?{clauses} ORDER BY lf.project, f.filename")
        return [_record(r) for r in conn.execute(query, [label_id, *args])]

    def _selected(self, conn: Conn, label_id: int,
                  selection: Selection) -> list[tuple[int, str, str | None]]:
        """(file id, project, yanked) of the label's files matching *selection*."""
        clauses, args = self._select(selection)
        query = ("SELECT lf.file_id, lf.project, lf.yanked FROM label_files lf JOIN files f "  # noqa: S608
                 f"ON f.id=lf.file_id WHERE lf.label_id=?{clauses}")
        return [(int(r[0]), str(r[1]), r[2]) for r in conn.execute(query, [label_id, *args])]

    # -- label operations -------------------------------------------------------------

    def copy(self, owner: str, source: str, target: str, selection: Selection, *,
             move: bool, create_target: bool = True) -> int:
        if source == target:
            raise UsageError(f"source and target label are both '{source}'")
        with self._write() as tx:
            source_id = self._label_id(tx, owner, source)
            target_id = self._label_id(tx, owner, target, create=create_target)
            rows = self._selected(tx, source_id, selection)
            if not rows:
                raise HubNotFound.thing(f"nothing matching in '{owner}/{source}'")
            now = time.time()
            changed = 0
            for file_id, project, yanked in rows:
                changed += tx.execute(
                    "INSERT OR IGNORE INTO label_files(label_id, file_id, project, added, yanked) "
                    "VALUES (?, ?, ?, ?, ?)", (target_id, file_id, project, now, yanked)).rowcount
                if move:
                    tx.execute("DELETE FROM label_files WHERE label_id=? AND file_id=?",
                               (source_id, file_id))
            projects = {str(r[1]) for r in rows}
            self._refresh(tx, target_id, projects)
            if move:
                self._refresh(tx, source_id, projects)
        return len(rows) if move else changed

    def remove(self, owner: str, label: str, selection: Selection) -> int:
        with self._write() as tx:
            label_id = self._label_id(tx, owner, label)
            rows = self._selected(tx, label_id, selection)
            for file_id, _project, _yanked in rows:
                tx.execute("DELETE FROM label_files WHERE label_id=? AND file_id=?",
                           (label_id, file_id))
            self._refresh(tx, label_id, {str(r[1]) for r in rows})
            orphans = self._drop_orphan_rows(tx)
        self._unlink_unreferenced(orphans)
        return len(rows)

    def delete_label(self, owner: str, label: str) -> int:
        with self._write() as tx:
            label_id = self._label_id(tx, owner, label)
            users = [str(r[0]) for r in tx.execute(
                "SELECT DISTINCT l.name FROM label_bases lb JOIN labels l ON l.id=lb.label_id "
                "WHERE lb.base_id=? ORDER BY l.name", (label_id,))]
            if users:
                raise UsageError(f"label '{owner}/{label}' is a base of {', '.join(users)}",
                                 hint="change their bases first (`wheelhub label bases`)")
            count = tx.execute("DELETE FROM label_files WHERE label_id=?", (label_id,)).rowcount
            tx.execute("DELETE FROM label_bases WHERE label_id=?", (label_id,))
            self._touch(tx, label_id, None)
            tx.execute("DELETE FROM pages WHERE label_id=?", (label_id,))
            tx.execute("DELETE FROM labels WHERE id=?", (label_id,))
            orphans = self._drop_orphan_rows(tx)
        self._unlink_unreferenced(orphans)
        return count

    def yank(self, owner: str, label: str, selection: Selection, reason: str | None) -> int:
        with self._write() as tx:
            label_id = self._label_id(tx, owner, label)
            rows = self._selected(tx, label_id, selection)
            for file_id, _project, _yanked in rows:
                tx.execute("UPDATE label_files SET yanked=? WHERE label_id=? AND file_id=?",
                           (reason, label_id, file_id))
            self._refresh(tx, label_id, {str(r[1]) for r in rows})
        return len(rows)

    def _drop_orphan_rows(self, tx: Conn) -> set[str]:
        rows = tx.execute("SELECT id, sha256 FROM files WHERE id NOT IN "
                          "(SELECT file_id FROM label_files)").fetchall()
        tx.executemany("DELETE FROM files WHERE id=?", [(r[0],) for r in rows])
        tx.executemany("DELETE FROM file_provenance WHERE file_id=?", [(r[0],) for r in rows])
        return {str(r[1]) for r in rows}

    def _unlink_unreferenced(self, candidates: set[str]) -> int:
        """Unlink blobs no row references, under the write lock (uploads wait)."""
        removed = 0
        if not candidates:
            return 0
        with self._write() as tx:
            for sha256 in candidates:
                if tx.execute("SELECT 1 FROM files WHERE sha256=? UNION ALL "
                              "SELECT 1 FROM upstream_files WHERE sha256=? LIMIT 1",
                              (sha256, sha256)).fetchone() is None:
                    with contextlib.suppress(FileNotFoundError):
                        self.blob_path(sha256).unlink()
                        removed += 1
        return removed

    def collect_garbage(self) -> int:
        """Drop files no label references, and blobs no file references. Returns blobs removed."""
        with self._write() as tx:
            orphans = self._drop_orphan_rows(tx)
        on_disk = {p.name for p in self.blobs.glob("*/*") if p.is_file()}
        return self._unlink_unreferenced(orphans | on_disk)

    def clean_temp(self) -> int:
        """Remove leftovers of interrupted uploads: the temp files of processes that are
        gone (other instances on the same root may be writing theirs right now)."""
        count = 0
        for path in [*self.tmp.iterdir(), *self.run.glob("*.lock")]:
            tag = path.stem if path.parent == self.run else [*path.name.split("-"), ""][1]
            if tag != self.tag and not _holds_lock(self.run / f"{tag}.lock"):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    count += path.parent == self.tmp
        return count

    # -- the upstream ------------------------------------------------------------------

    def hub_id(self) -> str:
        return str(self._conn().execute(
            "SELECT value FROM hub_meta WHERE key='hub_id'").fetchone()[0])

    def set_upstream(self, owner: str, upstream: Upstream | None) -> None:
        with self._write() as tx:
            owner_id = self._owner_id(tx, owner)
            if upstream is None:
                tx.execute("DELETE FROM upstreams WHERE owner_id=?", (owner_id,))
            else:
                tx.execute("INSERT OR REPLACE INTO upstreams(owner_id, url, allow) "
                           "VALUES (?, ?, ?)", (owner_id, upstream.url,
                                                ",".join(sorted(upstream.allow))))
            self._touch_owner(tx, owner_id)  # pages with an upstream are the hub's to serve

    def get_upstream(self, owner: str) -> Upstream | None:
        row = self._conn().execute(
            "SELECT u.url, u.allow FROM upstreams u JOIN owners o ON o.id=u.owner_id "
            "WHERE o.name=?", (owner,)).fetchone()
        return None if row is None else _upstream(row[0], row[1])

    def owns_project(self, owner: str, project: str) -> bool:
        return self._conn().execute(
            "SELECT 1 FROM owner_projects op JOIN owners o ON o.id=op.owner_id "
            "WHERE o.name=? AND op.project=?", (owner, project)).fetchone() is not None

    def upstream_page(self, upstream: str, project: str) -> CachedUpstreamPage | None:
        row = self._conn().execute(
            "SELECT fetched, etag, files, page_etag, html, html_gz, json, json_gz "
            "FROM upstream_pages WHERE upstream=? AND project=?", (upstream, project)).fetchone()
        if row is None:
            return None
        bodies = {key: bytes(body) for key, body in zip(_PAGE_COLUMNS, row[4:], strict=True)}
        return CachedUpstreamPage(fetched=float(row[0]), etag=row[1],
                                  files=tuple(load_files(row[2])), page_etag=str(row[3]),
                                  bodies=bodies)

    def store_upstream_page(self, upstream: str, project: str,
                            page: CachedUpstreamPage) -> None:
        with self._write() as tx:
            tx.execute("INSERT OR REPLACE INTO upstream_pages(upstream, project, fetched, etag, "
                       "files, page_etag, html, html_gz, json, json_gz) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (upstream, project, page.fetched, page.etag, dump_files(page.files),
                        page.page_etag, *(page.bodies[key] for key in _PAGE_COLUMNS)))

    def upstream_blob(self, upstream: str, filename: str) -> tuple[str, int] | None:
        row = self._conn().execute(
            "SELECT sha256, size FROM upstream_files WHERE upstream=? AND filename=?",
            (upstream, filename)).fetchone()
        if row is None or not self.blob_path(str(row[0])).exists():
            return None
        return str(row[0]), int(row[1])

    def add_upstream_blob(self, upstream: str, filename: str, temp: Path, sha256: str,
                          size: int) -> None:
        try:
            _fsync(temp)
            with self._write() as tx:  # same order as uploads: blob in place, then the row
                target = self.blob_path(sha256)
                target.parent.mkdir(exist_ok=True)
                temp.replace(target)
                _fsync(target.parent)
                tx.execute("INSERT OR REPLACE INTO upstream_files(upstream, filename, sha256, "
                           "size) VALUES (?, ?, ?, ?)", (upstream, filename, sha256, size))
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    # -- label lifecycle: provenance, promotion, import, retention --------------------

    @staticmethod
    def _set_provenance(tx: Conn, file_id: int,
                        provenance: Provenance | None) -> None:
        if provenance is not None:
            tx.execute("INSERT OR REPLACE INTO file_provenance(file_id, verdict, details) "
                       "VALUES (?, ?, ?)", (file_id, provenance.verdict,
                                            json.dumps(provenance.to_json(), sort_keys=True)))

    def provenance(self, owner: str, label: str) -> dict[str, Provenance]:
        conn = self._conn()
        label_id = self._label_id(conn, owner, label)
        rows = conn.execute(
            "SELECT f.filename, p.details FROM label_files lf JOIN files f ON f.id=lf.file_id "
            "JOIN file_provenance p ON p.file_id=f.id WHERE lf.label_id=?", (label_id,))
        return {str(name): Provenance.from_json(json.loads(details)) for name, details in rows}

    @staticmethod
    def _conflicts(tx: Conn, owner_id: int, label_id: int | None,
                   incoming: list[tuple[str, str]]) -> list[str]:
        """Names of *incoming* (filename, sha256) whose release file is already stored
        (in the label, or anywhere of the owner when *label_id* is None) with other bytes."""
        if label_id is None:
            rows = tx.execute("SELECT filename, sha256 FROM files WHERE owner_id=?", (owner_id,))
        else:
            rows = tx.execute("SELECT f.filename, f.sha256 FROM label_files lf JOIN files f "
                              "ON f.id=lf.file_id WHERE lf.label_id=?", (label_id,))
        stored = {parse_dist_filename(str(name)).identity: str(sha) for name, sha in rows}
        return sorted(name for name, sha in incoming
                      if stored.get(parse_dist_filename(name).identity, sha) != sha)

    def promote(self, owner: str, source: str, target: str, selection: Selection, *,
                require_tested: bool) -> PromoteResult:
        """Copy the selected files of *source* into *target* in one transaction: after a
        crash either all of them are there or none. ``require_tested`` leaves behind (and
        names) every file whose recorded test verdict is not ``passed``."""
        if source == target:
            raise UsageError(f"source and target label are both '{source}'")
        with self._write() as tx:
            source_id = self._label_id(tx, owner, source)
            target_id = self._label_id(tx, owner, target, create=True)
            clauses, args = self._select(selection)
            rows = tx.execute(
                "SELECT lf.file_id, lf.project, lf.yanked, f.filename, f.sha256, "  # noqa: S608
                "COALESCE(p.verdict, 'unknown') FROM label_files lf "
                "JOIN files f ON f.id=lf.file_id LEFT JOIN file_provenance p ON p.file_id=f.id "
                f"WHERE lf.label_id=?{clauses} ORDER BY f.filename",
                [source_id, *args]).fetchall()
            if not rows:
                raise HubNotFound.thing(f"nothing matching in '{owner}/{source}'")
            conflicts = self._conflicts(tx, self._owner_id(tx, owner), target_id,
                                        [(str(r[3]), str(r[4])) for r in rows])
            if conflicts:
                raise LabelConflict.files(owner, target, conflicts)
            now = time.time()
            promoted: list[str] = []
            left: list[tuple[str, str]] = []
            for file_id, project, yanked, filename, _sha, verdict in rows:
                if require_tested and verdict != "passed":
                    left.append((str(filename), f"test verdict: {verdict}"))
                    continue
                tx.execute("INSERT OR IGNORE INTO label_files(label_id, file_id, project, added, "
                           "yanked) VALUES (?, ?, ?, ?, ?)", (target_id, file_id, project, now,
                                                              yanked))
                promoted.append(str(filename))
            self._refresh(tx, target_id, {str(r[1]) for r in rows if str(r[3]) in promoted})
        return PromoteResult(promoted=tuple(promoted), left_behind=tuple(left))

    def import_files(self, owner: str, label: str, items: list[ImportItem]) -> int:
        """Add verified archive files to *label* with their yanks, times and provenance, all
        or nothing; a file the owner already stores with other bytes fails the whole import."""
        with self._write() as tx:
            owner_id = self._owner_id(tx, owner)
            label_id = self._label_id(tx, owner, label, create=True)
            conflicts = self._conflicts(tx, owner_id, None, [
                (i.new.record.filename, i.new.record.sha256) for i in items])
            if conflicts:
                raise LabelConflict.files(owner, label, conflicts)
            for item in items:
                row = self._same_release_file(tx, owner_id, item.new.record)
                if row is None:
                    file_id = self._insert_file(tx, owner_id, item.new)
                else:
                    file_id = row[0]
                    self._set_provenance(tx, file_id, item.new.provenance)
                tx.execute("INSERT OR REPLACE INTO label_files(label_id, file_id, project, added, "
                           "yanked) VALUES (?, ?, ?, ?, ?)",
                           (label_id, file_id, item.new.record.project, item.added, item.yanked))
            self._refresh(tx, label_id, {i.new.record.project for i in items})
        return len(items)

    def set_retention(self, owner: str, rule: RetentionRule) -> None:
        with self._write() as tx:
            tx.execute("INSERT OR REPLACE INTO retention_rules(owner_id, label_glob, "
                       "keep_versions, max_age, created) VALUES (?, ?, ?, ?, ?)",
                       (self._owner_id(tx, owner), rule.label_glob, rule.keep_versions,
                        rule.max_age, time.time()))

    def remove_retention(self, owner: str, label_glob: str) -> bool:
        with self._write() as tx:
            return tx.execute("DELETE FROM retention_rules WHERE owner_id=? AND label_glob=?",
                              (self._owner_id(tx, owner), label_glob)).rowcount > 0

    def list_retention(self, owner: str) -> list[RetentionRule]:
        conn = self._conn()
        rows = conn.execute("SELECT label_glob, keep_versions, max_age FROM retention_rules "
                            "WHERE owner_id=? ORDER BY label_glob", (self._owner_id(conn, owner),))
        return [RetentionRule(label_glob=r[0], keep_versions=r[1], max_age=r[2]) for r in rows]

    def prune(self, owner: str, *, apply: bool, now: float, live_labels: frozenset[str] | None,
              busy: frozenset[str] = frozenset()) -> list[PruneItem]:
        """What the owner's retention rules remove, and with *apply* remove it, planned and
        applied in one write transaction (so the applied run is exactly the plan)."""
        rules = self.list_retention(owner)
        with (self._write() if apply else contextlib.nullcontext(self._conn())) as conn:
            labels = conn.execute(
                "SELECT l.id, l.name, COALESCE(MAX(lf.added), l.created) FROM labels l "
                "LEFT JOIN label_files lf ON lf.label_id=l.id WHERE l.owner_id=? "
                "GROUP BY l.id ORDER BY l.name", (self._owner_id(conn, owner),)).fetchall()
            plan: list[PruneItem] = []
            for label_id, name, last in labels:
                matching = [r for r in rules if fnmatch.fnmatchcase(name, r.label_glob)]
                if matching and name not in busy:
                    plan += self._prune_label(conn, label_id, name, float(last), matching, now,
                                              live_labels)
            if apply:
                self._apply_prune(conn, owner, {n: i for i, n, _ in labels}, plan)
                orphans = self._drop_orphan_rows(conn)
        if apply:
            self._unlink_unreferenced(orphans)
        return plan

    def _prune_label(self, conn: Conn, label_id: int, name: str, last: float,
                     rules: list[RetentionRule], now: float,
                     live_labels: frozenset[str] | None) -> list[PruneItem]:
        if name != DEFAULT_LABEL:  # every owner keeps its main label
            if live_labels is not None and name not in live_labels:
                return [PruneItem(label=name, filename="", rule=rules[0].label_glob,
                                  reason="its branch no longer exists")]
            for rule in rules:
                if rule.max_age is not None and now - last > rule.max_age:
                    return [PruneItem(label=name, filename="", rule=rule.label_glob,
                                      reason=f"last upload {(now - last) / 86400:.1f}d ago "
                                      f"(max age {rule.max_age / 86400:g}d)")]
        items: list[PruneItem] = []
        keeping = [r for r in rules if r.keep_versions is not None]
        if not keeping:
            return items
        rule = min(keeping, key=lambda r: r.keep_versions or 0)  # the strictest applies
        by_project: dict[str, dict[str, list[str]]] = {}
        for project, version, filename in conn.execute(
                "SELECT lf.project, f.version, f.filename FROM label_files lf JOIN files f "
                "ON f.id=lf.file_id WHERE lf.label_id=? ORDER BY f.filename", (label_id,)):
            by_project.setdefault(str(project), {}).setdefault(str(version), []).append(
                str(filename))
        for versions in by_project.values():
            newest = sorted(versions, key=_version_key, reverse=True)
            for old in newest[rule.keep_versions:]:
                items += [PruneItem(label=name, filename=filename, rule=rule.label_glob,
                                    reason=f"version {old} is older than the newest "
                                    f"{rule.keep_versions}") for filename in versions[old]]
        return items

    def _apply_prune(self, tx: Conn, owner: str, ids: dict[str, int],
                     plan: list[PruneItem]) -> None:
        touched: dict[int, set[str]] = {}
        for item in plan:
            label_id = ids[item.label]
            if not item.filename:
                self._touch(tx, label_id, None)
                tx.execute("DELETE FROM label_files WHERE label_id=?", (label_id,))
                tx.execute("DELETE FROM pages WHERE label_id=?", (label_id,))
                tx.execute("DELETE FROM labels WHERE id=?", (label_id,))
                log.info("prune: removed label %s/%s (%s)", owner, item.label, item.reason)
                continue
            row = tx.execute("SELECT lf.file_id, lf.project FROM label_files lf JOIN files f "
                             "ON f.id=lf.file_id WHERE lf.label_id=? AND f.filename=?",
                             (label_id, item.filename)).fetchone()
            tx.execute("DELETE FROM label_files WHERE label_id=? AND file_id=?", (label_id, row[0]))
            touched.setdefault(label_id, set()).add(str(row[1]))
        for label_id, projects in touched.items():
            self._refresh(tx, label_id, projects)

    # -- audit log and webhooks -------------------------------------------------------

    def record_event(self, event: AuditEvent) -> int:
        """Append *event*, and queue it for every webhook of the owner that wants it (in the
        same transaction, so a crash never loses a delivery of a logged event)."""
        with self._write() as tx:
            cursor = tx.execute(
                "INSERT INTO audit_events(time, owner, label, action, actor_id, actor, address, "
                "files, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (event.time, event.owner, event.label, event.action, event.actor_id, event.actor,
                 event.address, json.dumps(list(event.files)), event.detail or "{}"))
            event_id = int(cursor.lastrowid or 0)
            payload = json.dumps({**dataclasses.replace(event, id=event_id).to_json(),
                                  "event": event.action}, sort_keys=True).encode()
            for hook in self.list_webhooks(event.owner, conn=tx):
                if event.action in hook.events or "*" in hook.events:
                    tx.execute("INSERT INTO webhook_deliveries(webhook_id, event_id, action, "
                               "payload, next_attempt, state, updated) "
                               "VALUES (?, ?, ?, ?, ?, 'pending', ?)",
                               (hook.id, event_id, event.action, payload, event.time, event.time))
        return event_id

    def list_events(self, owner: str, *, since: float | None = None, label: str | None = None,
                    action: str | None = None) -> list[AuditEvent]:
        where, args = ["owner=?"], [owner]
        for column, value in (("time>=?", since), ("label=?", label), ("action=?", action)):
            if value is not None:
                where.append(column)
                args.append(value)  # type: ignore[arg-type]
        rows = self._conn().execute(
            "SELECT id, time, owner, label, action, actor_id, actor, address, files, detail "  # noqa: S608
            f"FROM audit_events WHERE {' AND '.join(where)} ORDER BY id", args)
        return [AuditEvent(id=r[0], time=r[1], owner=r[2], label=r[3], action=r[4],
                           actor_id=r[5], actor=r[6], address=r[7],
                           files=tuple(json.loads(r[8])), detail=r[9]) for r in rows]

    def add_webhook(self, owner: str, url: str, events: tuple[str, ...], secret: str,
                    secret_env: str) -> Webhook:
        now = time.time()
        with self._write() as tx:
            cursor = tx.execute(
                "INSERT INTO webhooks(owner_id, url, events, secret, secret_env, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (self._owner_id(tx, owner), url, ",".join(events), secret, secret_env, now))
        return Webhook(id=int(cursor.lastrowid or 0), owner=owner, url=url, events=events,
                       secret_env=secret_env, created=now)

    def remove_webhook(self, owner: str, webhook_id: int) -> bool:
        with self._write() as tx:
            return tx.execute("UPDATE webhooks SET removed=? WHERE id=? AND owner_id=? "
                              "AND removed IS NULL",
                              (time.time(), webhook_id, self._owner_id(tx, owner))).rowcount > 0

    def list_webhooks(self, owner: str, *, conn: Conn | None = None) -> list[Webhook]:
        conn = conn or self._conn()
        rows = conn.execute("SELECT id, url, events, secret_env, created FROM webhooks "
                            "WHERE owner_id=? AND removed IS NULL ORDER BY id",
                            (self._owner_id(conn, owner),))
        return [Webhook(id=r[0], owner=owner, url=r[1], events=tuple(r[2].split(",")),
                        secret_env=r[3], created=r[4]) for r in rows]

    def webhook_secret(self, webhook_id: int) -> str | None:
        row = self._conn().execute("SELECT secret FROM webhooks WHERE id=?",
                                   (webhook_id,)).fetchone()
        return None if row is None else str(row[0])

    _QUERY_DELIVERIES = ("SELECT d.id, d.webhook_id, d.event_id, d.action, w.url, d.attempts, "
                         "d.state, d.last_status, d.updated FROM webhook_deliveries d "
                         "JOIN webhooks w ON w.id=d.webhook_id")

    def due_deliveries(self, now: float, limit: int = 20,
                       lease: float = 120.0) -> list[tuple[Delivery, bytes]]:
        """Pending deliveries whose time has come, leased for *lease* seconds (so another
        hub process on the same root does not send them too)."""
        with self._write() as tx:
            rows = tx.execute(self._QUERY_DELIVERIES + " WHERE d.state='pending' AND "
                              "d.next_attempt<=? ORDER BY d.next_attempt LIMIT ?",
                              (now, limit)).fetchall()
            found = []
            for row in rows:
                tx.execute("UPDATE webhook_deliveries SET next_attempt=? WHERE id=?",
                           (now + lease, row[0]))
                payload = tx.execute("SELECT payload FROM webhook_deliveries WHERE id=?",
                                     (row[0],)).fetchone()[0]
                found.append((_delivery(row), bytes(payload)))
        return found

    def finish_delivery(self, delivery_id: int, *, status: str, retry_at: float | None,
                        give_up: bool) -> None:
        state = "failed" if give_up else ("pending" if retry_at is not None else "delivered")
        with self._write() as tx:
            tx.execute("UPDATE webhook_deliveries SET attempts=attempts+1, state=?, last_status=?, "
                       "next_attempt=COALESCE(?, next_attempt), updated=? WHERE id=?",
                       (state, status, retry_at, time.time(), delivery_id))

    def list_deliveries(self, owner: str, webhook_id: int | None = None) -> list[Delivery]:
        conn = self._conn()
        query = self._QUERY_DELIVERIES + " WHERE w.owner_id=?"
        args: list[object] = [self._owner_id(conn, owner)]
        if webhook_id is not None:
            query += " AND w.id=?"
            args.append(webhook_id)
        return [_delivery(r) for r in conn.execute(query + " ORDER BY d.id", args)]

    # -- tokens -----------------------------------------------------------------------

    def add_token(self, *, owner: str, token_hash: str, scope: Scope, label_glob: str | None,
                  expires: float | None, hint: str, description: str) -> TokenRecord:
        now = time.time()
        with self._write() as tx:
            owner_id = self._owner_id(tx, owner)
            cursor = tx.execute(
                "INSERT INTO tokens(hash, owner_id, scope, label_glob, expires, created, hint, "
                "description) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (token_hash, owner_id, int(scope), label_glob, expires, now, hint, description))
        return TokenRecord(id=int(cursor.lastrowid or 0), owner=owner, scope=scope,
                           label_glob=label_glob, expires=expires, revoked=None, created=now,
                           hint=hint, description=description)

    _QUERY_TOKENS = (
                    "SELECT t.id, o.name, t.scope, t.label_glob, t.expires, t.revoked, t.created, "
        "t.hint, t.description FROM tokens t JOIN owners o ON o.id=t.owner_id")

    @staticmethod
    def _token(row: tuple[object, ...]) -> TokenRecord:
        tid, owner, scope, glob, expires, revoked, created, hint, description = row
        return TokenRecord(id=int(str(tid)), owner=str(owner), scope=Scope(int(str(scope))),
                           label_glob=None if glob is None else str(glob),
                           expires=None if expires is None else float(str(expires)),
                           revoked=None if revoked is None else float(str(revoked)),
                           created=float(str(created)), hint=str(hint),
                           description=str(description))

    def find_token(self, token_hash: str) -> TokenRecord | None:
        row = self._conn().execute(self._QUERY_TOKENS + " WHERE t.hash=?",
                                   (token_hash,)).fetchone()
        return None if row is None else self._token(row)

    def list_tokens(self, owner: str | None = None) -> list[TokenRecord]:
        if owner is None:
            rows = self._conn().execute(self._QUERY_TOKENS + " ORDER BY t.id")
        else:
            rows = self._conn().execute(self._QUERY_TOKENS + " WHERE o.name=? ORDER BY t.id",
                                        (owner,))
        return [self._token(r) for r in rows]

    def revoke_token(self, token_id: int) -> bool:
        with self._write() as tx:
            return tx.execute("UPDATE tokens SET revoked=? WHERE id=? AND revoked IS NULL",
                              (time.time(), token_id)).rowcount > 0


class SqliteStorage(SqlStorage):
    """The embedded backend: SQLite in WAL mode at ``root/hub.sqlite3``."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.db_path = root / "hub.sqlite3"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaTooNew.at(str(self.db_path), version)
        for migration in MIGRATIONS:
            if migration.version > version:
                log.debug("schema step %d (%s) on %s", migration.version, migration.name,
                          self.db_path)
                conn.executescript(f"BEGIN IMMEDIATE;\n{migration.sql}\n"
                                   f"PRAGMA user_version={migration.version};\nCOMMIT;")

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False,
                                   timeout=60.0)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=60000")
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            # Also when COMMIT itself fails (a full disk): the transaction is still open.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
        self._release_run_lock()


def _delivery(row: tuple[object, ...]) -> Delivery:
    did, hook, event, action, url, attempts, state, status, updated = row
    return Delivery(id=int(str(did)), webhook_id=int(str(hook)), event_id=int(str(event)),
                    action=str(action), url=str(url), attempts=int(str(attempts)),
                    state=str(state), last_status=str(status), updated=float(str(updated)))


def _version_key(text: str) -> tuple[int, Version | str]:
    """Newest last; versions that do not parse sort before every one that does."""
    try:
        return 1, Version(text)
    except InvalidVersion:
        return 0, text


def _holds_lock(path: Path) -> bool:
    """Whether a live process holds *path*'s lock (a missing file: no one)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
