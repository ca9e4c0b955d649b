"""The embedded storage: SQLite (WAL) for metadata, content-addressed files under ``root``.

Layout under ``root``::

    hub.sqlite3            owners, labels, files, label membership, pages, token hashes
    blobs/ab/<sha256>      every stored archive, once, named by its SHA-256
    tmp/                   uploads being written (never served; emptied at startup)

Writes follow one rule: the bytes are written to ``tmp/``, fsynced and renamed into
``blobs/`` *before* the transaction that references them commits, and blobs are only
unlinked under the write lock after the rows referencing them are gone. So a crash
leaves at worst an unreferenced blob (collected later), never a row without its file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from packaging.version import InvalidVersion, Version

from wheelhub.errors import UsageError
from wheelhub.index.dists import parse_dist_filename
from wheelhub.index.names import DEFAULT_LABEL, check_label, check_owner, normalize_project
from wheelhub.index.simple import RenderedPage, render_index, render_project
from wheelhub.server.errors import HubNotFound, UploadConflict
from wheelhub.server.storage import (
    AddOutcome,
    FileRecord,
    Label,
    NewFile,
    Owner,
    Page,
    PageLookup,
    Scope,
    Selection,
    TokenRecord,
    Visibility,
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
# Build cache records (wheelhub.server.cache): per owner, found by the entry's pre-key.
CACHE_RECORDS_SCHEMA = """
CREATE TABLE IF NOT EXISTS cache_records(
    owner_id INTEGER NOT NULL, prekey TEXT NOT NULL, key TEXT NOT NULL, label TEXT NOT NULL,
    record TEXT NOT NULL, stored REAL NOT NULL, PRIMARY KEY(owner_id, prekey, key)) WITHOUT ROWID;
"""
# (version, what it adds, SQL): a database at version N gets every later step, in order.
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "owners, labels, files, pages, tokens", SCHEMA),
    (2, "build cache records", CACHE_RECORDS_SCHEMA),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

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


class SqliteStorage:
    """:class:`wheelhub.server.storage.Storage` on SQLite + the local filesystem."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.tmp = root / "tmp"
        for directory in (root, self.blobs, self.tmp):
            directory.mkdir(parents=True, exist_ok=True)
        self.db_path = root / "hub.sqlite3"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise UsageError(f"{self.db_path} was written by a newer wheelhub (schema {version})",
                             hint="upgrade wheelhub")
        for step, _what, sql in MIGRATIONS:
            if step > version:
                conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version={step};\nCOMMIT;")

    # -- connections and transactions -------------------------------------------------

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
    def _write(self) -> Iterator[sqlite3.Connection]:
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

    def _owner_id(self, conn: sqlite3.Connection, owner: str) -> int:
        row = conn.execute("SELECT id FROM owners WHERE name=?", (owner,)).fetchone()
        if row is None:
            raise HubNotFound.owner(owner)
        return int(row[0])

    def _label_id(self, conn: sqlite3.Connection, owner: str, label: str, *,
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

    def create_label(self, owner: str, label: str, *, private: bool = False) -> Label:
        with self._write() as tx:
            self._label_id(tx, owner, label, create=True, private=private)
        return next(lab for lab in self.list_labels(owner) if lab.name == label)

    def list_labels(self, owner: str) -> list[Label]:
        conn = self._conn()
        owner_id = self._owner_id(conn, owner)
        rows = conn.execute(
            "SELECT l.name, l.private, l.created, COUNT(lf.file_id), COUNT(DISTINCT lf.project) "
            "FROM labels l LEFT JOIN label_files lf ON lf.label_id=l.id WHERE l.owner_id=? "
            "GROUP BY l.id ORDER BY l.name", (owner_id,))
        return [Label(owner=owner, name=r[0], private=bool(r[1]), created=r[2], files=r[3],
                      projects=r[4]) for r in rows]

    def set_label_private(self, owner: str, label: str, private: bool) -> None:
        with self._write() as tx:
            label_id = self._label_id(tx, owner, label)
            tx.execute("UPDATE labels SET private=? WHERE id=?", (int(private), label_id))

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
            f"SELECT o.private, l.id, l.private, p.etag, p.{column} FROM owners o "  # noqa: S608
            "LEFT JOIN labels l ON l.owner_id=o.id AND l.name=? "
            "LEFT JOIN pages p ON p.label_id=l.id AND p.project=? WHERE o.name=?",
            (label, project, owner)).fetchone()
        if row is None:
            return PageLookup(visibility=Visibility(owner_exists=False, owner_private=False,
                                                    label_exists=False, label_private=False),
                              page=None)
        visibility = Visibility(owner_exists=True, owner_private=bool(row[0]),
                                label_exists=row[1] is not None, label_private=bool(row[2]))
        page = None if row[3] is None else Page(etag=row[3], body=row[4])
        return PageLookup(visibility=visibility, page=page)

    def _store_page(self, conn: sqlite3.Connection, label_id: int, project: str,
                    page: RenderedPage) -> None:
        conn.execute("INSERT OR REPLACE INTO pages(label_id, project, etag, html, html_gz, json, "
                     "json_gz) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (label_id, project, page.etag, page.html, page.html_gz, page.json,
                      page.json_gz))

    def _refresh(self, conn: sqlite3.Connection, label_id: int, projects: set[str]) -> None:
        """Re-render the pages of *projects* in a label, and its index if the set changed."""
        index_changed = False
        for project in projects:
            rows = conn.execute(
                f"SELECT {_FILE_COLUMNS} FROM label_files lf JOIN files f ON f.id=lf.file_id "  # noqa: S608
                "WHERE lf.label_id=? AND lf.project=?", (label_id, project)).fetchall()
            had = conn.execute("SELECT 1 FROM pages WHERE label_id=? AND project=?",
                               (label_id, project)).fetchone() is not None
            if rows:
                self._store_page(conn, label_id, project,
                                 render_project(project, [_record(r).index_file() for r in rows]))
            else:
                conn.execute("DELETE FROM pages WHERE label_id=? AND project=?",
                             (label_id, project))
            index_changed |= had != bool(rows)
        if index_changed:
            names = conn.execute(
                "SELECT lf.project, MAX(f.display_name) FROM label_files lf "
                "JOIN files f ON f.id=lf.file_id WHERE lf.label_id=? GROUP BY lf.project",
                (label_id,)).fetchall()
            self._store_page(conn, label_id, INDEX, render_index((n, d) for n, d in names))

    # -- files ------------------------------------------------------------------------

    def blob_path(self, sha256: str) -> Path:
        return self.blobs / sha256[:2] / sha256

    def temp_file(self) -> tuple[BinaryIO, Path]:
        fd, name = _mkstemp(self.tmp)
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
                    linked = tx.execute(
                        "INSERT OR IGNORE INTO label_files(label_id, file_id, project, added) "
                        "VALUES (?, ?, ?, ?)", (label_id, row[0], record.project, time.time()))
                    if linked.rowcount == 0:
                        return AddOutcome.UNCHANGED
                    self._refresh(tx, label_id, {record.project})
                    return AddOutcome.LINKED
                target = self.blob_path(record.sha256)
                target.parent.mkdir(exist_ok=True)
                temp.replace(target)
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
                tx.execute("INSERT INTO label_files(label_id, file_id, project, added) "
                           "VALUES (?, ?, ?, ?)",
                           (label_id, cursor.lastrowid, record.project, record.uploaded))
                self._refresh(tx, label_id, {record.project})
                return AddOutcome.CREATED
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    @staticmethod
    def _same_release_file(tx: sqlite3.Connection, owner_id: int,
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

    def find_file(self, owner: str, label: str, filename: str) -> FileRecord | None:
        row = self._conn().execute(
            f"SELECT {_FILE_COLUMNS} FROM owners o JOIN labels l ON l.owner_id=o.id "  # noqa: S608
            "JOIN files f ON f.owner_id=o.id JOIN label_files lf "
            "ON lf.label_id=l.id AND lf.file_id=f.id "
            "WHERE o.name=? AND l.name=? AND f.filename=?", (owner, label, filename)).fetchone()
        return None if row is None else _record(row)

    def core_metadata(self, owner: str, label: str, filename: str) -> bytes | None:
        row = self._conn().execute(
            "SELECT f.metadata FROM owners o JOIN labels l ON l.owner_id=o.id "
            "JOIN files f ON f.owner_id=o.id JOIN label_files lf "
            "ON lf.label_id=l.id AND lf.file_id=f.id "
            "WHERE o.name=? AND l.name=? AND f.filename=? AND f.metadata_sha256 != ''",
            (owner, label, filename)).fetchone()
        return None if row is None else bytes(row[0])

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

    def _selected(self, conn: sqlite3.Connection, label_id: int,
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
            count = tx.execute("DELETE FROM label_files WHERE label_id=?", (label_id,)).rowcount
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

    def _drop_orphan_rows(self, tx: sqlite3.Connection) -> set[str]:
        rows = tx.execute("SELECT id, sha256 FROM files WHERE id NOT IN "
                          "(SELECT file_id FROM label_files)").fetchall()
        tx.executemany("DELETE FROM files WHERE id=?", [(r[0],) for r in rows])
        return {str(r[1]) for r in rows}

    def _unlink_unreferenced(self, candidates: set[str]) -> int:
        """Unlink blobs no row references, under the write lock (uploads wait)."""
        removed = 0
        if not candidates:
            return 0
        with self._write() as tx:
            for sha256 in candidates:
                if tx.execute("SELECT 1 FROM files WHERE sha256=? LIMIT 1",
                              (sha256,)).fetchone() is None:
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
        """Remove leftovers of interrupted uploads (call when no upload is running)."""
        count = 0
        for path in self.tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                count += 1
        return count

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


def _mkstemp(directory: Path) -> tuple[int, str]:
    return tempfile.mkstemp(dir=directory, prefix="upload-", suffix=".part")
