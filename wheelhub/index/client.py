"""Reading a simple index as pip does: its network settings, PEP 691 JSON or PEP 503 HTML.

Used by ``wheelhub outdated`` (which releases exist) and by the build's host-side sdist
fetch (one file, checked against the sha256 the index publishes).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import replace
from email.parser import Parser
from pathlib import Path
from urllib.parse import urljoin

from packaging.utils import canonicalize_name

from wheelhub.errors import WheelhubError
from wheelhub.index.simple import ACCEPT, IndexFile, parse_project
from wheelhub.util.redact import redact

DEFAULT_INDEX = "https://pypi.org/simple/"
# Where a system keeps its CA bundle when no variable names one (Debian, then RHEL).
SYSTEM_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


class IndexUnreachable(WheelhubError):
    exit_code = 3

    @classmethod
    def for_url(cls, url: str, detail: str) -> IndexUnreachable:
        return cls(f"cannot read the index {redact(url)}: {detail}; nothing was written",
                   hint="check --index-url (or PIP_INDEX_URL), the proxy (HTTPS_PROXY, PIP_PROXY) "
                   "and the CA bundle (PIP_CERT, REQUESTS_CA_BUNDLE, SSL_CERT_FILE)")


def verify_setting(env: Mapping[str, str]) -> str | bool:
    """The CA bundle pip would use: its variables first, else the system's, else certifi's."""
    for variable in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        value = env.get(variable)
        if value and Path(value).is_file():
            return value
    return next((bundle for bundle in SYSTEM_CA_BUNDLES if Path(bundle).is_file()), True)


class IndexClient:
    """Project pages (or a find-links page) of one index, read with pip's network settings."""

    def __init__(self, index_url: str, env: Mapping[str, str] | None = None, *,
                 agent: str = "wheelhub", ca_bundle: Path | None = None) -> None:
        import requests

        env = os.environ if env is None else env
        self.index_url = index_url if index_url.endswith("/") else index_url + "/"
        self._session = requests.Session()  # trust_env: HTTP(S)_PROXY and NO_PROXY like pip
        self._session.verify = str(ca_bundle) if ca_bundle is not None else verify_setting(env)
        self._session.headers["User-Agent"] = agent
        if env.get("PIP_PROXY"):
            self._session.proxies = {"http": env["PIP_PROXY"], "https": env["PIP_PROXY"]}
        self._timeout = float(env.get("PIP_DEFAULT_TIMEOUT") or 30)

    def project_files(self, project: str) -> list[IndexFile] | None:
        """The files of *project*'s page with absolute URLs; None when not on the index."""
        return self.page_files(urljoin(self.index_url, f"{canonicalize_name(project)}/"))

    def page_files(self, url: str) -> list[IndexFile] | None:
        """The files a page links to (a project page, or a ``--find-links`` page), absolute
        URLs; None for a 404."""
        body, content_type = self.get(url, missing_ok=True)
        if body is None:
            return None
        try:
            files = parse_project(body, content_type)
        except (ValueError, KeyError, TypeError) as error:
            raise IndexUnreachable.for_url(url, f"not a simple index page ({error})") from None
        return [replace(file, url=urljoin(url, file.url)) for file in files]

    def core_metadata(self, file: IndexFile) -> dict[str, list[str]]:
        """The PEP 658 metadata headers of *file* ({} when the index serves none)."""
        if not file.metadata_sha256:
            return {}
        body, _type = self.get(file.url.split("#")[0] + ".metadata", missing_ok=True)
        if body is None:
            return {}
        message = Parser().parsestr(body.decode("utf-8", "replace"), headersonly=True)
        headers: dict[str, list[str]] = {}
        for key, value in message.items():
            headers.setdefault(key, []).append(value)
        return headers

    def download(self, file: IndexFile, dest: Path) -> Path:
        """*file* into the directory *dest*, its sha256 checked when the index gives one."""
        import requests

        target = dest / file.filename
        digest = hashlib.sha256()
        try:
            with self._session.get(file.url.split("#")[0], stream=True,
                                   timeout=self._timeout) as response:
                if response.status_code != 200:
                    raise IndexUnreachable.for_url(
                        file.url, f"HTTP {response.status_code} {response.reason}")
                with target.open("wb") as out:
                    for chunk in response.iter_content(1 << 16):
                        digest.update(chunk)
                        out.write(chunk)
        except requests.RequestException as error:
            raise IndexUnreachable.for_url(file.url, short_error(error)) from None
        if file.sha256 and digest.hexdigest() != file.sha256:
            target.unlink()
            raise IndexUnreachable.for_url(
                file.url, f"sha256 {digest.hexdigest()} is not the {file.sha256} the index lists")
        return target

    def get(self, url: str, *, missing_ok: bool) -> tuple[bytes | None, str]:
        import requests

        try:
            response = self._session.get(url, headers={"Accept": ACCEPT}, timeout=self._timeout)
        except requests.RequestException as error:
            raise IndexUnreachable.for_url(self.index_url, short_error(error)) from None
        if response.status_code == 404 and missing_ok:
            return None, ""
        if response.status_code != 200:
            raise IndexUnreachable.for_url(url, f"HTTP {response.status_code} {response.reason}")
        return response.content, response.headers.get("Content-Type", "")

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> IndexClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def short_error(error: BaseException) -> str:
    text = str(error)
    for needle, short in (("Connection refused", "connection refused"),
                          ("Name or service not known", "host not found"),
                          ("Failed to resolve", "host not found"),
                          ("CERTIFICATE_VERIFY_FAILED", "certificate not trusted"),
                          ("timed out", "timed out")):
        if needle in text:
            return short
    return redact(text.splitlines()[0][:160] if text else type(error).__name__)

