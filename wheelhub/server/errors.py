"""Errors the hub answers with; ``status`` is the HTTP status of the response."""

from __future__ import annotations

from pathlib import Path

from wheelhub.errors import WheelhubError
from wheelhub.util.redact import redact


class HubError(WheelhubError):
    """A request to the hub was refused; ``status`` is the HTTP status the server answers."""

    status: int = 400

    def __init__(self, message: str, *, hint: str | None = None, status: int | None = None,
                 exit_code: int | None = None):
        super().__init__(message, hint=hint, exit_code=exit_code)
        if status is not None:
            self.status = status


class HubNotFound(HubError):
    """Unknown owner, label, project or file, or a private one without a valid read token."""

    status = 404

    @classmethod
    def owner(cls, owner: str) -> HubNotFound:
        return cls(f"owner '{owner}' not found",
                   hint=f"create it with `wheelhub owner create {owner}` (or create a token for it)")

    @classmethod
    def label(cls, owner: str, label: str) -> HubNotFound:
        return cls(f"label '{owner}/{label}' not found",
                   hint=f"list labels with `wheelhub label list --owner {owner}`")

    @classmethod
    def thing(cls, what: str) -> HubNotFound:
        return cls(f"{what} not found")


class HubAuthError(HubError):
    """No token, or a wrong, expired or revoked one (HTTP 401)."""

    status = 401

    @classmethod
    def missing(cls) -> HubAuthError:
        return cls("this needs a token",
                   hint="pass it as HTTP basic auth (user __token__) or a /t/<token>/ URL prefix")

    @classmethod
    def invalid(cls) -> HubAuthError:
        return cls("token is invalid, expired or revoked",
                   hint="create a new one with `wheelhub token create`")


class HubForbidden(HubError):
    """A valid token without the needed scope, owner or label glob (HTTP 403)."""

    status = 403

    @classmethod
    def scope(cls, needed: str, have: str) -> HubForbidden:
        return cls(f"token scope '{have}' does not allow this (needs '{needed}')",
                   hint=f"create a token with --scope {needed}")

    @classmethod
    def label(cls, owner: str, label: str, glob: str) -> HubForbidden:
        return cls(f"token is limited to labels '{glob}', not '{owner}/{label}'",
                   hint="use a token whose --label glob matches this label")

    @classmethod
    def owner(cls, owner: str) -> HubForbidden:
        return cls(f"token does not belong to owner '{owner}'",
                   hint=f"create one with `wheelhub token create --owner {owner}`")


class UploadRejected(HubError):
    """The upload is malformed or inconsistent; nothing was stored (HTTP 400)."""

    status = 400

    @classmethod
    def because(cls, filename: str, reason: str) -> UploadRejected:
        return cls(f"upload of '{filename}' rejected: {reason}",
                   hint="nothing was stored; fix the file and upload again")


class UploadConflict(HubError):
    """Same filename, different bytes (HTTP 409)."""

    status = 409

    @classmethod
    def for_file(cls, owner: str, filename: str) -> UploadConflict:
        return cls(f"'{filename}' already exists in '{owner}' with different contents",
                   hint="files are immutable: bump the version (or a build tag) and upload again")


class LabelConflict(HubError):
    """A promotion or import would put other bytes under a filename the label (or the
    owner) already has (HTTP 409); nothing was changed."""

    status = 409

    @classmethod
    def files(cls, owner: str, label: str, names: list[str]) -> LabelConflict:
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        return cls(f"'{owner}/{label}' already has other bytes for {len(names)} file(s): {shown}",
                   hint="nothing was changed; remove those files from the target first, or "
                   "promote only the others (--project/--version/--file)")


class ArchiveInvalid(HubError):
    """A label archive that is truncated, edited or not an archive (HTTP 400)."""

    status = 400

    @classmethod
    def because(cls, source: str, reason: str) -> ArchiveInvalid:
        return cls(f"archive {source}: {reason}",
                   hint="nothing was imported; make the archive again with `wheelhub label "
                   "archive` (its files are checked against the recorded sha256)")


class UploadTooLarge(HubError):
    status = 413

    @classmethod
    def limit(cls, limit: int) -> UploadTooLarge:
        return cls(f"upload exceeds the size limit of {limit} bytes",
                   hint="raise it with `wheelhub serve --max-upload-size`")


class HubDiskFull(HubError):
    """The hub's disk (or its database) is full: nothing was stored (HTTP 507)."""

    status = 507

    @classmethod
    def upload(cls) -> HubDiskFull:
        return cls("the hub is out of disk space: the upload was not stored",
                   hint="retry later; the hub operator must free space under its --root "
                        "(no restart needed)")


class RequestTimeout(HubError):
    """The client sent its request body too slowly (HTTP 408; the connection is closed)."""

    status = 408

    @classmethod
    def body(cls, seconds: float, min_rate: int) -> RequestTimeout:
        return cls(f"request body too slow (nothing for {seconds:g}s, or under {min_rate} "
                   "bytes/s)", hint="retry on a faster connection")


class UpstreamError(HubError):
    """The owner's upstream index failed, lied or is misconfigured (HTTP 502, 504, 508)."""

    status = 502
    LOOP_STATUS = 508  # RFC 5842 Loop Detected

    @classmethod
    def bad_url(cls, url: str, why: str = "it is not an http(s) URL of a simple index") -> UpstreamError:
        return cls(f"upstream '{redact(url)}' refused: {why}", status=400,
                   hint="give the index URL pip would use, e.g. https://pypi.org/simple/")

    @classmethod
    def bad_names(cls, names: list[str]) -> UpstreamError:
        return cls(f"not valid project names: {', '.join(repr(n) for n in names)}", status=400,
                   hint="names are letters, digits, '.', '_' and '-' (PEP 508)")

    @classmethod
    def not_an_index(cls, url: str, why: str) -> UpstreamError:
        return cls(f"upstream {redact(url)} is not a package index ({why})",
                   hint="give the index URL pip would use, e.g. https://pypi.org/simple/")

    @classmethod
    def loop(cls, url: str) -> UpstreamError:
        return cls(f"upstream {redact(url)} is this hub itself", status=cls.LOOP_STATUS,
                   hint="an owner's upstream must be another index (such as PyPI)")

    @classmethod
    def unreachable(cls, url: str, why: str) -> UpstreamError:
        return cls(f"upstream {redact(url)} cannot be reached: {why}",
                   hint="check the URL and that this machine reaches it (HTTPS_PROXY)")

    @classmethod
    def failed(cls, url: str, why: str, *, timed_out: bool) -> UpstreamError:
        """A request that failed with no cached copy to fall back on: 504 on a timeout."""
        if timed_out:
            return cls(f"upstream {redact(url)} timed out and nothing is cached", status=504,
                       hint="retry later, or raise `wheelhub serve --upstream-timeout`")
        return cls(f"upstream {redact(url)} failed ({why}) and nothing is cached",
                   hint="retry later; pages fetched before are served while it is down")

    @classmethod
    def answered(cls, url: str, status: int) -> UpstreamError:
        return cls(f"upstream {redact(url)} answered HTTP {status} and nothing is cached",
                   hint="retry later")

    @classmethod
    def tampered(cls, filename: str, expected: str, actual: str) -> UpstreamError:
        return cls(f"upstream file '{filename}' does not match its index page "
                   f"(sha256 {actual[:16]}..., the page says {expected[:16]}...): refused, "
                   "not stored", hint="the upstream or the way to it serves altered files; "
                   "report it to the upstream's operator")

    @classmethod
    def too_large(cls, filename: str, limit: int) -> UpstreamError:
        return cls(f"upstream file '{filename}' exceeds {limit} bytes: not stored",
                   hint="install it from the upstream directly")


class DatabaseUnavailable(HubError):
    """The hub's database cannot be reached or is not one it can use (HTTP 503 while serving;
    before serving, the command stops with this message)."""

    status = 503

    @classmethod
    def down(cls, url: str, why: str) -> DatabaseUnavailable:
        return cls(f"the hub's database {redact(url)} is unavailable ({redact(why.strip())})",
                   hint="retry shortly; the hub reconnects on its own once the database is back")

    @classmethod
    def unreachable(cls, url: str, why: str) -> DatabaseUnavailable:
        return cls(f"cannot connect to the database {redact(url)}: {redact(why.strip())}",
                   hint="check --database (postgresql://USER@HOST[:PORT]/DB) and that the "
                        "server is running", exit_code=2)

    @classmethod
    def not_postgres(cls, url: str) -> DatabaseUnavailable:
        return cls(f"--database {redact(url)} is not a PostgreSQL URL",
                   hint="give postgresql://USER@HOST[:PORT]/DB, or leave it out for the "
                        "embedded SQLite under --root", exit_code=2)


class SchemaTooNew(HubError):
    """The database was written by a newer wheelhub: refused before anything changes."""

    status = 503

    @classmethod
    def at(cls, where: str, version: int) -> SchemaTooNew:
        return cls(f"{redact(where)} was written by a newer wheelhub (schema {version})",
                   hint="upgrade wheelhub", exit_code=2)


class StaticDirError(HubError):
    """The static dir cannot be written: refused before serving."""

    @classmethod
    def not_writable(cls, path: Path, why: str) -> StaticDirError:
        return cls(f"--static-dir {path}: cannot write there ({why})",
                   hint="give the hub's user write access, or pick another directory",
                   exit_code=2)
