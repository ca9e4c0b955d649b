"""The hub: a package index with labels, uploads and tokens (``wheelhub serve``).

Library entry points (the CLI and other modules' tests call these):

* :func:`open_storage` - the embedded storage under a root directory;
* :func:`create_owner`, :func:`create_token` - what ``wheelhub owner/token create`` do;
* :func:`serve` (in :mod:`wheelhub.server.serve`) - run the server.

Tests start a real one with ``tests.support.hub.running_hub(root)``.

Importing this package does not import the web server.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from wheelhub.index.names import check_label, check_owner
from wheelhub.server import tokens
from wheelhub.server.sqlite import SqliteStorage, SqlStorage
from wheelhub.server.storage import Owner, Scope, Storage, TokenRecord, Upstream
from wheelhub.util.log import get_logger

log = get_logger("server")

__all__ = ["create_owner", "create_token", "issue_token", "open_storage", "set_upstream"]


DATABASE_FILE = "database.url"  # under the root: the PostgreSQL database its hub uses
STATIC_FILE = "static-dir"  # under the root: where its public pages are mirrored


def open_storage(root: Path, database: str = "", static_dir: Path | None = None) -> SqlStorage:
    """The storage of the hub at *root* (created if missing). Close it when done.

    With *database* (a ``postgresql://`` URL) the metadata lives there and the root
    remembers it, so every later command on the root (tokens, labels) finds it; without
    one, the database the root remembers, else the embedded SQLite under the root.
    *static_dir* (``serve --static-dir``), also remembered by the root, gets every change
    to a public label's pages (:mod:`wheelhub.server.static`), whichever command makes it.
    """
    storage = _open_database(Path(root), database)
    try:
        _attach_static(storage, static_dir)
    except BaseException:
        storage.close()
        raise
    return storage


def _open_database(root: Path, database: str) -> SqlStorage:
    recorded = root / DATABASE_FILE
    url = database or (recorded.read_text().strip() if recorded.exists() else "")
    if not url:
        return SqliteStorage(root)
    from wheelhub.server.postgres import PostgresStorage

    storage = PostgresStorage(root, url)
    if database and (not recorded.exists() or recorded.read_text().strip() != database):
        record_database(root, database)
    return storage


def _attach_static(storage: SqlStorage, static_dir: Path | None) -> None:
    from wheelhub.server.static import StaticMirror

    recorded = storage.root / STATIC_FILE
    if static_dir is None and recorded.exists():
        static_dir = Path(recorded.read_text().strip())
    if static_dir is None:
        return
    storage.static = StaticMirror(static_dir.absolute())
    if not recorded.exists() or recorded.read_text().strip() != str(static_dir.absolute()):
        recorded.write_text(f"{static_dir.absolute()}\n")


def record_database(root: Path, url: str) -> None:
    """Remember *url* as the database of the hub at *root* (readable by its owner only:
    the URL may hold a password)."""
    fd = os.open(root / DATABASE_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(url + "\n")


def create_owner(root: Path, name: str, *, private: bool = False,
                 exist_ok: bool = True) -> Owner:
    storage = open_storage(root)
    try:
        return storage.create_owner(name, private=private, exist_ok=exist_ok)
    finally:
        storage.close()


def issue_token(storage: Storage, *, owner: str, scope: str | Scope = Scope.UPLOAD,
                label_glob: str | None = None, expires: str | float | None = None,
                description: str = "", create_owner: bool = True) -> tuple[str, TokenRecord]:
    """Create a token; return the secret (shown once) and its stored record.

    A missing owner is created (public) when *create_owner* is true. *expires* is a
    duration such as ``"90d"`` or an absolute UNIX time.
    """
    check_owner(owner)
    if storage.get_owner(owner) is None:
        if not create_owner:
            from wheelhub.server.errors import HubNotFound

            raise HubNotFound.owner(owner)
        storage.create_owner(owner, exist_ok=True)
        log.info("created owner '%s' (public; `wheelhub owner create %s --private` for a "
                 "private one)", owner, owner)
    resolved_scope = scope if isinstance(scope, Scope) else _scope(scope)
    glob = tokens.check_label_glob(label_glob)
    if glob is not None and not any(c in glob for c in "*?["):
        check_label(glob)
    when = expires if isinstance(expires, float | int) or expires is None \
        else tokens.parse_expiry(expires)
    secret = tokens.new_token()
    record = storage.add_token(owner=owner, token_hash=tokens.hash_token(secret),
                               scope=resolved_scope, label_glob=glob,
                               expires=None if when is None else float(when),
                               hint=tokens.hint(secret), description=description)
    return secret, record


def create_token(root: Path, *, owner: str, scope: str | Scope = Scope.UPLOAD,
                 label_glob: str | None = None, expires: str | float | None = None,
                 description: str = "", create_owner: bool = True) -> str:
    """Create a token in the hub at *root* and return it (only its hash is stored)."""
    storage = open_storage(root)
    try:
        secret, _record = issue_token(storage, owner=owner, scope=scope, label_glob=label_glob,
                                      expires=expires, description=description,
                                      create_owner=create_owner)
    finally:
        storage.close()
    return secret


def _scope(text: str) -> Scope:
    from wheelhub.errors import UsageError

    try:
        return Scope.parse(text)
    except KeyError:
        raise UsageError(f"unknown scope '{text}'", hint="use read, upload or admin") from None


def set_upstream(storage: Storage, owner: str, url: str | None = None, *,
                 allow: Sequence[str] = (), disallow: Sequence[str] = (),
                 off: bool = False) -> Upstream | None:
    """Set, change or (*off*) remove *owner*'s upstream; return what is in force.

    A new URL must answer as a simple index that is not this hub; allow-list names
    must be valid project names. Nothing changes unless everything checks out.
    """
    from wheelhub.errors import UsageError
    from wheelhub.server.errors import HubNotFound
    from wheelhub.server.upstream import check_allow, check_upstream

    if storage.get_owner(owner) is None:
        raise HubNotFound.owner(owner)
    if off:
        storage.set_upstream(owner, None)
        return None
    allowed, disallowed = check_allow(list(allow)), check_allow(list(disallow))
    current = storage.get_upstream(owner)
    if url is None and current is None:
        if not (allow or disallow):
            return None
        raise UsageError(f"owner '{owner}' has no upstream to allow names from",
                         hint=f"wheelhub owner upstream {owner} https://pypi.org/simple/")
    checked = check_upstream(url, storage.hub_id()) if url is not None else None
    previous = current.allow if current is not None else frozenset()
    upstream = Upstream(url=checked or (current.url if current else ""),
                        allow=(previous | allowed) - disallowed)
    storage.set_upstream(owner, upstream)
    return upstream
