"""Twine-compatible indexes: the wheelhub hub, devpi, pypiserver, Artifactory, GitLab.

Uploads go through twine's own library (``twine.repository.Repository`` and
``twine.package.PackageFile``), one attempt per call: the planner owns retries. What is
already there is read from the simple API: PEP 691 JSON where the index offers it, PEP 503
HTML (``#sha256=`` fragments) otherwise.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from wheelhub.index import urls
from wheelhub.index.simple import ACCEPT, JSON_TYPE, parse_project
from wheelhub.publish.errors import TargetAuthError, TargetError
from wheelhub.publish.model import Candidate
from wheelhub.publish.target import Listing, UploadFailedError
from wheelhub.util.log import get_logger
from wheelhub.util.redact import redact

log = get_logger("publish")

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def _session(auth: tuple[str, str] | None, retries: int = 3) -> requests.Session:
    session = requests.Session()
    retry = Retry(total=retries, connect=retries, read=min(2, retries), backoff_factor=0.3,
                  allowed_methods=["GET", "HEAD"], status_forcelist=[502, 503, 504], raise_on_status=False)
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.auth = auth
    session.headers["User-Agent"] = "wheelhub-publish"
    return session


class IndexTarget:
    """A twine upload URL plus the simple index to read what is there."""

    def __init__(self, *, upload_url: str, index_url: str, kind: str, token: str | None,
                 token_env: str, username: str = "__token__", timeout: float = 60.0,
                 notes: Sequence[str] = ()) -> None:
        self.kind = kind
        self.upload_url = upload_url
        self.index_url = index_url if index_url.endswith("/") else index_url + "/"
        self.description = redact(upload_url, [token or ""])
        self.notes = tuple(notes)
        self._token = token
        self._token_env = token_env
        self._username = username
        self._timeout = timeout
        self._read = _session((username, token) if token else None)

    # -- reading ---------------------------------------------------------------------------
    def existing(self, projects: Iterable[str]) -> Listing:
        found: dict[str, str] = {}
        for project in sorted(set(projects)):
            found.update(self._project_files(project))
        return found

    def _project_files(self, project: str) -> Listing:
        url = urljoin(self.index_url, f"{project}/")
        shown = redact(url, [self._token or ""])
        try:
            response = self._read.get(url, headers={"Accept": ACCEPT}, timeout=self._timeout)
        except requests.RequestException as error:
            raise TargetError.unreachable(shown, short_error(error)) from None
        if response.status_code == 404:
            return {}
        if response.status_code in (401, 403):
            raise TargetAuthError.rejected(shown, response.status_code, self._token_env,
                                           bool(self._token))
        if response.status_code != 200:
            raise TargetError.unexpected(shown, response.status_code, response.reason or "")
        try:
            files = parse_project(response.content, response.headers.get("Content-Type", ""))
        except (ValueError, KeyError, TypeError) as error:
            raise TargetError.unexpected(shown, 200, f"not a simple index page: {error}") \
                from None
        return {file.filename: file.sha256 for file in files}

    # -- the hub's label API ---------------------------------------------------------------
    def ensure_label(self, owner_url: str, label: str, bases: Sequence[str]) -> None:
        """Create *label* on the hub falling back to *bases*, unless it exists (then its
        bases stay as they are). A failure is logged: the upload creates the label anyway."""
        base, owner = urls.split_owner_url(owner_url)
        url = urls.api_url(base, owner, label, "create")
        try:
            response = self._read.post(url, json={"bases": list(bases)}, timeout=self._timeout)
        except requests.RequestException as error:
            log.warning("could not create label %s on %s: %s", label, ", ".join(bases),
                        short_error(error))
            return
        if response.status_code == 200:
            log.info("created label %s on %s", label, ", ".join(bases))
        elif "already exists" not in response.text:
            log.warning("could not create label %s on %s: HTTP %d %s", label, ", ".join(bases),
                        response.status_code, _reason(response))

    def has_upstream(self, owner_url: str) -> bool | None:
        """Whether the hub serves the owner's upstream (so one --index-url is enough)."""
        base, owner = urls.split_owner_url(owner_url)
        try:
            response = self._read.get(urls.api_url(base, owner), timeout=self._timeout)
            return bool(response.json().get("upstream")) if response.status_code == 200 else None
        except (requests.RequestException, ValueError, AttributeError):
            return None

    # -- uploading -------------------------------------------------------------------------
    def upload(self, candidate: Candidate) -> None:
        from twine.exceptions import TwineException
        from twine.package import PackageFile
        from twine.repository import Repository

        try:
            package = PackageFile.from_filename(str(candidate.path), None)
        except TwineException as error:
            raise UploadFailedError(f"twine cannot read it: {error}") from None
        if self.kind == "hub":
            _with_provenance(package, candidate)
        repository = Repository(self.upload_url, self._username, self._token,
                                disable_progress_bar=True)
        try:
            response = repository.upload(package, max_redirects=1)  # one attempt; we retry
        except requests.RequestException as error:
            raise UploadFailedError(f"network error: {short_error(error)}", transient=True) from None
        finally:
            repository.close()
        status = response.status_code
        response.close()
        if 200 <= status < 300:
            return
        if status in (401, 403):
            raise TargetAuthError.rejected(self.description, status, self._token_env,
                                           bool(self._token))
        reason = _reason(response)
        # PyPI and pypiserver say "File already exists" with a 400; the hub and devpi use 409
        if status == 409 or (status == 400 and "already exist" in reason.lower()):
            raise UploadFailedError(f"HTTP {status} conflict: {reason}", conflict=True,
                                    status=status)
        if status in (301, 302, 303, 307, 308):
            where = response.headers.get("Location")
            raise UploadFailedError(f"HTTP {status} redirect to {where}: is --to the upload URL?",
                                    status=status)
        raise UploadFailedError(f"HTTP {status}: {reason}", transient=status in TRANSIENT_STATUS,
                            status=status)

    def finish(self, published: Sequence[Candidate]) -> None:
        return None

    def close(self) -> None:
        self._read.close()


def _with_provenance(package: Any, candidate: Candidate) -> None:
    """Add the hub's ``wheelhub_*`` form fields (test verdict, vendored libraries) to what
    twine sends for *package*; the hub stores them as the file's provenance."""
    base = package.metadata_dictionary
    extra = {"wheelhub_test": candidate.verdict,
             "wheelhub_vendored": ",".join(candidate.vendored)}
    package.metadata_dictionary = lambda: {**base(), **extra}


def _reason(response: requests.Response) -> str:
    """The server's explanation as one short line (HTML error pages reduced to their text)."""
    text = response.text or ""
    if "<" in text:
        text = re.sub(r"(?is)<(script|style|title|head)\b.*?</\1>", " ", text)
        text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    detail = " ".join(text.split())[:200]
    return redact(detail or response.reason or "")


def short_error(error: BaseException) -> str:
    text = str(error)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "Failed to resolve" in text:
        return "host not found"
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.ConnectionError):
        return "connection dropped" if "Aborted" in text or "reset" in text else \
            redact(text.splitlines()[0][:160])
    return redact(text.splitlines()[0][:160] if text else type(error).__name__)


def probe_hub(to: str, label: str, token: str | None, timeout: float = 10.0) -> bool:
    """Does *to* (``http://hub:8080/acme``) look like a wheelhub hub?

    Yes when the label's simple index answers in PEP 691 JSON, or else the hub's health
    check (beside the owner) says "ok"; no when the host does not answer at all.
    """
    session = _session(("__token__", token) if token else None, retries=0)
    try:
        index = _get(session, urls.owner_simple_url(to, label), timeout)
        if index is None:
            return False
        if index.status_code == 200 and JSON_TYPE in index.headers.get("Content-Type", ""):
            return True
        health = _get(session, urls.health_url(urls.split_owner_url(to)[0]), timeout)
        return health is not None and health.status_code == 200 and health.text.strip() == "ok"
    finally:
        session.close()


def _get(session: requests.Session, url: str, timeout: float) -> requests.Response | None:
    try:
        return session.get(url, headers={"Accept": ACCEPT}, timeout=timeout)
    except requests.RequestException:
        return None
