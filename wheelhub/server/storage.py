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
class NewFile:
    """A validated upload, ready to store. ``path`` is the archive, a file from
    :meth:`Storage.temp_file` that :meth:`Storage.add_file` moves into place."""

    record: FileRecord
    metadata: bytes
    path: Path


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
    def core_metadata(self, owner: str, label: str, filename: str) -> bytes | None: ...
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

    # tokens
    def add_token(self, *, owner: str, token_hash: str, scope: Scope, label_glob: str | None,
                  expires: float | None, hint: str, description: str) -> TokenRecord: ...
    def find_token(self, token_hash: str) -> TokenRecord | None: ...
    def list_tokens(self, owner: str | None = None) -> list[TokenRecord]: ...
    def revoke_token(self, token_id: int) -> bool: ...

