"""The storage interface the hub talks to, and the records it passes around.

The HTTP layer and the CLI use only :class:`Storage`; :mod:`wheelhub.server.sqlite`
is the embedded implementation (SQLite in WAL mode plus content-addressed files on
disk). A PostgreSQL + object-storage implementation would implement the same
protocol: every method is one atomic operation.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from wheelhub.index.simple import IndexFile, RenderedPage
from wheelhub.index.urls import project_file_href


class Scope(enum.IntEnum):
    """Token scopes; each one includes the ones below it."""

    READ = 1
    UPLOAD = 2
    ADMIN = 3

    @classmethod
    def parse(cls, text: str) -> Scope:
        return cls[text.upper()]

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, kw_only=True, slots=True)
class Owner:
    name: str
    private: bool
    created: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Label:
    owner: str
    name: str
    private: bool
    created: float
    files: int = 0
    projects: int = 0
    bases: tuple[str, ...] = ()  # labels of the same owner whose files show through, in order
    size: int = 0  # bytes of the files it lists
    last_upload: float | None = None  # when a file was last added to it


@dataclass(frozen=True, kw_only=True, slots=True)
class Upstream:
    """An owner's upstream index: every project name the owner never published comes
    from it; *allow* lists the owner's names that may show upstream files as well."""

    url: str  # the upstream's simple index, with its trailing slash
    allow: frozenset[str] = frozenset()  # normalized project names

    def serves(self, project: str, *, owned: bool) -> bool:
        """Whether the upstream's files for *project* appear on the owner's pages."""
        return not owned or project in self.allow


@dataclass(frozen=True, kw_only=True, slots=True)
class CachedUpstreamPage:
    """An upstream project page as the hub last fetched it, rendered for its own clients."""

    fetched: float  # UNIX time of the last fetch or revalidation
    etag: str | None  # the upstream's validator, for If-None-Match
    files: tuple[IndexFile, ...]  # with absolute upstream URLs
    page_etag: str  # the hub's rendering (its hrefs point at the hub)
    bodies: Mapping[tuple[bool, bool], bytes]  # (json, gzip) -> body

    @classmethod
    def of(cls, *, fetched: float, etag: str | None, files: tuple[IndexFile, ...],
           rendered: RenderedPage) -> CachedUpstreamPage:
        return cls(fetched=fetched, etag=etag, files=files, page_etag=rendered.etag,
                   bodies={(False, False): rendered.html, (False, True): rendered.html_gz,
                           (True, False): rendered.json, (True, True): rendered.json_gz})

    def page(self, *, json: bool, gzip: bool) -> Page:
        return Page(etag=self.page_etag, body=self.bodies[(json, gzip)])


@dataclass(frozen=True, kw_only=True, slots=True)
class Visibility:
    """What one lookup tells a request about an owner/label pair before it is served."""

    owner_exists: bool
    owner_private: bool
    label_exists: bool
    label_private: bool

    @property
    def private(self) -> bool:
        return self.owner_private or self.label_private


@dataclass(frozen=True, kw_only=True, slots=True)
class FileRecord:
    filename: str
    project: str  # normalized
    display_name: str  # as in METADATA
    version: str
    kind: str  # bdist_wheel | sdist
    python_tags: tuple[str, ...]
    platform_tags: tuple[str, ...]
    size: int
    sha256: str
    md5: str
    blake2_256: str
    requires_python: str | None
    summary: str | None
    metadata_sha256: str | None  # None: no PEP 658 metadata file (an sdist with dynamic deps)
    uploaded: float
    yanked: str | None = None  # None: not yanked; "" yanked without a reason

    def index_file(self) -> IndexFile:
        """This file as the label's simple-API project page lists it."""
        return IndexFile(filename=self.filename, url=project_file_href(self.filename),
                         sha256=self.sha256, version=self.version, size=self.size,
                         requires_python=self.requires_python,
                         metadata_sha256=self.metadata_sha256, uploaded=self.uploaded,
                         yanked=self.yanked)


@dataclass(frozen=True, kw_only=True, slots=True)
class Provenance:
    """Where a file came from, as publish recorded it (upload form fields ``wheelhub_*``)."""

    verdict: str = "unknown"  # passed | failed | untested | unknown (no record)
    branch: str = ""
    commit: str = ""
    run_url: str = ""
    vendored: tuple[str, ...] = ()  # libraries auditwheel grafted in

    def to_json(self) -> dict[str, object]:
        return {"verdict": self.verdict, "branch": self.branch, "commit": self.commit,
                "run_url": self.run_url, "vendored": list(self.vendored)}

    @classmethod
    def from_json(cls, data: object) -> Provenance:
        if not isinstance(data, dict):
            return cls()
        verdict = str(data.get("verdict") or "unknown")
        return cls(verdict=verdict if verdict in VERDICTS else "unknown",
                   branch=str(data.get("branch") or ""), commit=str(data.get("commit") or ""),
                   run_url=str(data.get("run_url") or ""),
                   vendored=tuple(str(v) for v in data.get("vendored") or ()))


VERDICTS = ("passed", "failed", "untested", "unknown")


@dataclass(frozen=True, kw_only=True, slots=True)
class NewFile:
    """A validated upload, ready to store. ``path`` is the archive, a file from
    :meth:`Storage.temp_file` that :meth:`Storage.add_file` moves into place."""

    record: FileRecord
    metadata: bytes
    path: Path
    provenance: Provenance | None = None  # None: keep what is recorded (if anything)


class AddOutcome(enum.Enum):
    CREATED = "created"  # new file stored and added to the label
    LINKED = "linked"  # file already stored (same bytes); now also in this label
    UNCHANGED = "unchanged"  # identical re-upload: nothing to do


@dataclass(frozen=True, kw_only=True, slots=True)
class Page:
    """A precomputed simple-API page in one representation."""

    etag: str
    body: bytes


@dataclass(frozen=True, kw_only=True, slots=True)
class PageLookup:
    visibility: Visibility
    page: Page | None
    upstream: Upstream | None = None  # the owner's upstream, if it has one
    owned: bool = False  # the owner has published the project (in any label, ever)


@dataclass(frozen=True, kw_only=True, slots=True)
class TokenRecord:
    id: int
    owner: str
    scope: Scope
    label_glob: str | None
    expires: float | None
    revoked: float | None
    created: float
    hint: str
    description: str

    def is_active(self, now: float) -> bool:
        return self.revoked is None and (self.expires is None or self.expires > now)


@dataclass(frozen=True, kw_only=True, slots=True)
class Selection:
    """Which files of a label an operation applies to: all, a project, a version, a file."""

    project: str | None = None
    version: str | None = None
    filename: str | None = None


# -- label lifecycle: promotion, retention, audit log, webhooks --------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class PromoteResult:
    promoted: tuple[str, ...]  # filenames now in the target (newly or already)
    left_behind: tuple[tuple[str, str], ...]  # (filename, why) of files the gate held back


@dataclass(frozen=True, kw_only=True, slots=True)
class RetentionRule:
    """What ``prune`` may remove from labels matching ``label_glob``."""

    label_glob: str
    keep_versions: int | None = None  # keep the newest N versions of each project
    max_age: float | None = None  # seconds since the label's last upload

    @property
    def text(self) -> str:
        parts = [f"keep {self.keep_versions} versions"] if self.keep_versions is not None else []
        if self.max_age is not None:
            parts.append(f"max age {self.max_age / 86400:g}d")
        return ", ".join(parts) or "labels whose branch is gone"


@dataclass(frozen=True, kw_only=True, slots=True)
class PruneItem:
    """One thing prune removes: a whole label (``filename`` "") or one file of it."""

    label: str
    filename: str
    rule: str  # the rule's glob
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ImportItem:
    """A file read back from an archive, verified, ready to be added to a label."""

    new: NewFile
    yanked: str | None
    added: float


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditEvent:
    id: int
    time: float
    owner: str
    label: str  # "" for owner-wide events (tokens, webhooks, retention)
    action: str
    actor_id: int | None  # the token's id; None for the local CLI
    actor: str  # the token's description, or "local <user>@<host>"; never the token
    address: str  # client address, "local" for the CLI
    files: tuple[str, ...] = ()
    detail: str = ""  # JSON object text

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "time": self.time, "owner": self.owner, "label": self.label,
                "action": self.action, "actor_id": self.actor_id, "actor": self.actor,
                "address": self.address, "files": list(self.files), "detail": self.detail}


@dataclass(frozen=True, kw_only=True, slots=True)
class Webhook:
    id: int
    owner: str
    url: str
    events: tuple[str, ...]
    secret_env: str  # the variable the secret was read from (the secret is never shown)
    created: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Delivery:
    id: int
    webhook_id: int
    event_id: int
    action: str
    url: str
    attempts: int
    state: str  # pending | delivered | failed
    last_status: str  # "HTTP 200", "timed out", ...
    updated: float


class Storage(Protocol):
    """Owners, labels, files, precomputed pages and token hashes."""

    root: Path

    def close(self) -> None: ...

    # owners and labels
    def create_owner(self, name: str, *, private: bool = False,
                     exist_ok: bool = False) -> Owner: ...
    def get_owner(self, name: str) -> Owner | None: ...
    def list_owners(self) -> list[Owner]: ...
    def set_owner_private(self, name: str, private: bool) -> None: ...
    def create_label(self, owner: str, label: str, *, private: bool = False,
                     bases: Sequence[str] = ()) -> Label: ...
    def set_bases(self, owner: str, label: str, bases: Sequence[str]) -> None: ...
    def list_labels(self, owner: str) -> list[Label]: ...
    def set_label_private(self, owner: str, label: str, private: bool) -> None: ...
    def visibility(self, owner: str, label: str) -> Visibility: ...

    # files
    def temp_file(self) -> tuple[BinaryIO, Path]:
        """A new file to stream an upload into (open for writing); the caller removes it
        unless :meth:`add_file` took it."""
        ...
    def add_file(self, owner: str, label: str, new: NewFile, *,
                 create_label: bool) -> AddOutcome: ...
    def find_file(self, owner: str, label: str, filename: str) -> FileRecord | None: ...
    def blob_path(self, sha256: str) -> Path: ...
    def core_metadata(self, owner: str, label: str, filename: str, *,
                      served: bool = True) -> bytes | None:
        """The file's METADATA; with *served* only where PEP 658 serves it (static)."""
        ...
    def list_files(self, owner: str, label: str,
                   selection: Selection | None = None) -> list[FileRecord]: ...
    def page(self, owner: str, label: str, project: str, *, json: bool,
             gzip: bool) -> PageLookup: ...
    def page_files(self, owner: str, label: str, project: str) -> list[IndexFile]:
        """The files of *project* on the label's page: its own, then its bases'."""
        ...

    # the upstream, and what the hub cached of it
    def hub_id(self) -> str:
        """A random id of this hub's storage (a hub refuses to be its own upstream)."""
        ...
    def set_upstream(self, owner: str, upstream: Upstream | None) -> None: ...
    def get_upstream(self, owner: str) -> Upstream | None: ...
    def owns_project(self, owner: str, project: str) -> bool: ...
    def upstream_page(self, upstream: str, project: str) -> CachedUpstreamPage | None: ...
    def store_upstream_page(self, upstream: str, project: str,
                            page: CachedUpstreamPage) -> None: ...
    def upstream_blob(self, upstream: str, filename: str) -> tuple[str, int] | None:
        """(sha256, size) of an upstream file (or ``.metadata``) already fetched, or None."""
        ...
    def add_upstream_blob(self, upstream: str, filename: str, temp: Path, sha256: str,
                          size: int) -> None:
        """Move a verified download into the blobs and remember it (takes *temp*)."""
        ...

    # label operations, each atomic
    def copy(self, owner: str, source: str, target: str, selection: Selection, *,
             move: bool, create_target: bool = True) -> int: ...
    def remove(self, owner: str, label: str, selection: Selection) -> int: ...
    def delete_label(self, owner: str, label: str) -> int: ...
    def yank(self, owner: str, label: str, selection: Selection, reason: str | None) -> int: ...
    def collect_garbage(self) -> int: ...

    # label lifecycle
    def provenance(self, owner: str, label: str) -> dict[str, Provenance]: ...
    def promote(self, owner: str, source: str, target: str, selection: Selection, *,
                require_tested: bool) -> PromoteResult: ...
    def import_files(self, owner: str, label: str, items: list[ImportItem]) -> int: ...
    def set_retention(self, owner: str, rule: RetentionRule) -> None: ...
    def remove_retention(self, owner: str, label_glob: str) -> bool: ...
    def list_retention(self, owner: str) -> list[RetentionRule]: ...
    def prune(self, owner: str, *, apply: bool, now: float, live_labels: frozenset[str] | None,
              busy: frozenset[str] = frozenset()) -> list[PruneItem]: ...
    def record_event(self, event: AuditEvent) -> int: ...
    def list_events(self, owner: str, *, since: float | None = None, label: str | None = None,
                    action: str | None = None) -> list[AuditEvent]: ...
    def add_webhook(self, owner: str, url: str, events: tuple[str, ...], secret: str,
                    secret_env: str) -> Webhook: ...
    def remove_webhook(self, owner: str, webhook_id: int) -> bool: ...
    def list_webhooks(self, owner: str) -> list[Webhook]: ...
    def webhook_secret(self, webhook_id: int) -> str | None: ...
    def due_deliveries(self, now: float, limit: int = 20) -> list[tuple[Delivery, bytes]]: ...
    def finish_delivery(self, delivery_id: int, *, status: str,
                        retry_at: float | None, give_up: bool) -> None: ...
    def list_deliveries(self, owner: str, webhook_id: int | None = None) -> list[Delivery]: ...

    # build cache records (wheelhub.server.cache), each call one statement or transaction
    def cache_records(self, owner: str, prekey: str) -> list[tuple[str, str]]:
        """(label, record as JSON text) of the owner's records of *prekey*, newest first."""
        ...
    def store_cache_records(self, owner: str, label: str,
                            records: Sequence[tuple[str, str, str]]) -> None:
        """Store (prekey, key, record JSON) each, published to *label*, in one transaction;
        a record replaces an older one of the same pre-key and key."""
        ...
    def file_labels(self, owner: str, filename: str) -> list[str]:
        """The owner's labels holding its file *filename*, by name."""
        ...

    # tokens
    def add_token(self, *, owner: str, token_hash: str, scope: Scope, label_glob: str | None,
                  expires: float | None, hint: str, description: str) -> TokenRecord: ...
    def find_token(self, token_hash: str) -> TokenRecord | None: ...
    def list_tokens(self, owner: str | None = None) -> list[TokenRecord]: ...
    def revoke_token(self, token_id: int) -> bool: ...

