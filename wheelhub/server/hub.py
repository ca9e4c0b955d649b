"""The hub as a service: authorization and uploads over a :class:`Storage`.

HTTP views (:mod:`wheelhub.server.app`) and the CLI call this; it never sees HTTP.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelhub.index.dists import parse_dist_filename, read_core_metadata
from wheelhub.index.errors import InvalidDistribution
from wheelhub.index.names import check_label
from wheelhub.server import tokens
from wheelhub.server.errors import HubAuthError, HubForbidden, HubNotFound, UploadRejected
from wheelhub.server.multipart import Form
from wheelhub.server.storage import (
    AddOutcome,
    FileRecord,
    NewFile,
    Provenance,
    Scope,
    Storage,
    TokenRecord,
    Visibility,
)
from wheelhub.server.upstream import UpstreamClient, UpstreamSettings
from wheelhub.server.webhooks import DeliverySettings
from wheelhub.util.log import get_logger

log = get_logger("server")

MiB = 1024 * 1024


@dataclass(frozen=True, kw_only=True, slots=True)
class HubSettings:
    root: Path
    database: str = ""  # postgresql://...; empty: the one the root records, else SQLite
    static_dir: Path | None = None  # mirror public pages here (else the one the root records)
    max_upload_bytes: int = 256 * MiB
    max_unpacked_bytes: int = 2048 * MiB
    create_labels_on_upload: bool = True
    access_log: bool = False
    body_timeout: float = 30.0  # seconds without a byte of a request body
    min_body_rate: int = 1024  # bytes/s a body must average once body_timeout has passed
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)
    webhooks: DeliverySettings = field(default_factory=DeliverySettings)


class Hub:
    def __init__(self, storage: Storage, settings: HubSettings) -> None:
        self.storage = storage
        self.settings = settings
        self.id = storage.hub_id()
        self.upstream = UpstreamClient(storage, settings.upstream)

    # -- authorization ------------------------------------------------------------------

    def authenticate(self, token: str | None) -> TokenRecord | None:
        """The record for *token*; None without one; HubAuthError if it is not valid now."""
        if token is None:
            return None
        record = self.storage.find_token(tokens.hash_token(token))
        if record is None or not record.is_active(time.time()):
            raise HubAuthError.invalid()
        return record

    @staticmethod
    def hidden(visibility: Visibility, owner: str, label: str,
               token: TokenRecord | None) -> HubNotFound | None:
        """The 404 for an owner/label *token* may not read, or None when it may.

        What is private answers exactly as what does not exist (same status, same text),
        so no caller learns that a private owner or label is there.
        """
        if not visibility.owner_exists or (visibility.owner_private
                                           and (token is None or token.owner != owner)):
            return HubNotFound.owner(owner)
        readable = not visibility.private or (
            token is not None and tokens.grants(token, owner=owner, label=label,
                                                needed=Scope.READ))
        if not visibility.label_exists or not readable:
            return HubNotFound.label(owner, label)
        return None

    def check_read(self, owner: str, label: str, token: TokenRecord | None) -> Visibility:
        """Raise 404 for anything missing or private-and-not-readable (names never leak)."""
        visibility = self.storage.visibility(owner, label)
        if (error := self.hidden(visibility, owner, label, token)) is not None:
            raise error
        return visibility

    def check_write(self, owner: str, label: str, token: TokenRecord | None,
                    needed: Scope) -> Visibility:
        """Upload/admin access to *owner*/*label*; the label need not exist yet.

        Without a token the answer is 401 before anything is looked up; a token of another
        owner gets 404 for a private owner as for a missing one; a token whose label glob
        does not match gets 403 whether the label exists, privately or not at all.
        """
        if token is None:
            raise HubAuthError.missing()
        visibility = self.storage.visibility(owner, label)
        if not visibility.owner_exists or (visibility.owner_private and token.owner != owner):
            raise HubNotFound.owner(owner)
        if token.owner != owner:
            raise HubForbidden.owner(owner)
        if not tokens.label_allowed(token, label):
            raise HubForbidden.label(owner, label, token.label_glob or "*")
        if token.scope < needed:
            raise HubForbidden.scope(needed.label, token.scope.label)
        return visibility

    # -- uploads ------------------------------------------------------------------------

    def upload(self, owner: str, label: str, form: Form,
               token: TokenRecord | None) -> tuple[AddOutcome, FileRecord]:
        visibility = self.check_write(owner, label, token, Scope.UPLOAD)
        if not visibility.label_exists:
            check_label(label)
            if not self.settings.create_labels_on_upload:
                raise HubNotFound.label(owner, label)
        new = self.validate(form)
        outcome = self.storage.add_file(owner, label, new,
                                        create_label=self.settings.create_labels_on_upload)
        log.info("upload %s/%s %s: %s", owner, label, new.record.filename, outcome.value)
        return outcome, new.record

    def validate(self, form: Form) -> NewFile:
        """Turn a twine upload form into a :class:`NewFile`, or say everything wrong with it."""
        action = form.fields.get(":action")
        if action != "file_upload":
            raise UploadRejected(f"unsupported :action '{action}'",
                                 hint="only file_upload is supported (use twine upload)")
        upload = form.files.get("content")
        if upload is None:
            raise UploadRejected("the upload has no 'content' file part",
                                 hint="upload with twine")
        with _rejected_upload():
            dist = parse_dist_filename(upload.filename)
        problems = [f"missing form field '{key}'" for key in ("name", "version")
                    if not form.fields.get(key)]
        if form.fields.get("name") and canonicalize_name(form.fields["name"]) != dist.project:
            problems.append(f"form name '{form.fields['name']}' does not match the filename")
        if form.fields.get("version"):
            try:
                if Version(form.fields["version"]) != dist.version:
                    problems.append(f"form version '{form.fields['version']}' does not match "
                                    "the filename")
            except InvalidVersion:
                problems.append(f"form version '{form.fields['version']}' is invalid")
        digests = _digests(upload.path)
        for key, actual in digests.items():
            claimed = form.fields.get(key)
            if claimed and claimed.strip().lower() != actual:
                problems.append(f"{key} does not match the uploaded bytes")
        if not upload.size:
            problems.append("the file is empty")
        if problems:
            raise UploadRejected.because(dist.filename, "; ".join(problems))
        with _rejected_upload():
            meta = read_core_metadata(upload.path, dist,
                                      max_unpacked=self.settings.max_unpacked_bytes)
        record = FileRecord(
            filename=dist.normalized_filename, project=dist.project, display_name=meta.name,
            version=str(dist.version), kind=dist.kind, python_tags=dist.python_tags,
            platform_tags=dist.platform_tags, size=upload.size,
            sha256=digests["sha256_digest"], md5=digests["md5_digest"],
            blake2_256=digests["blake2_256_digest"], requires_python=meta.requires_python,
            summary=meta.summary,
            metadata_sha256=hashlib.sha256(meta.raw).hexdigest() if meta.static else None,
            uploaded=time.time())
        return NewFile(record=record, metadata=meta.raw, path=upload.path,
                       provenance=provenance_of(form.fields))


# Form fields publish adds to a twine upload (twine and other indexes ignore them).
PROVENANCE_FIELDS = {"wheelhub_test": "verdict", "wheelhub_branch": "branch",
                     "wheelhub_commit": "commit", "wheelhub_run_url": "run_url",
                     "wheelhub_vendored": "vendored"}


def provenance_of(fields: dict[str, str]) -> Provenance | None:
    """The provenance publish sent with an upload; None when it sent none (plain twine)."""
    given = {key: fields[name] for name, key in PROVENANCE_FIELDS.items() if fields.get(name)}
    if not given:
        return None
    vendored = given.pop("vendored", "")
    return Provenance.from_json({**given, "vendored": [v for v in vendored.split(",") if v]})


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


def _digests(path: Path) -> dict[str, str]:
    """The digests twine sends as form fields, of the file at *path* (read in chunks)."""
    hashes: dict[str, _Digest] = {"sha256_digest": hashlib.sha256(), "md5_digest": hashlib.md5(usedforsecurity=False),
              "blake2_256_digest": hashlib.blake2b(digest_size=32)}
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            for digest in hashes.values():
                digest.update(chunk)
    return {key: digest.hexdigest() for key, digest in hashes.items()}


@contextlib.contextmanager
def _rejected_upload() -> Iterator[None]:
    """An invalid distribution is a rejected upload: HTTP 400, nothing stored."""
    try:
        yield
    except InvalidDistribution as error:
        raise UploadRejected.because(error.filename, error.reason) from error
