"""The hub's URL scheme, both directions: the one module that knows the shape of its URLs.

The shape is pypi.anaconda.org's, so a hub and anaconda.org read the same::

    /<owner>/label/<label>/                      label web page (GET), twine upload (POST)
    /<owner>/label/<label>/simple/[<project>/]   PEP 503/691 index
    /<owner>/label/<label>/files/<filename>      a file; + ".metadata" for PEP 658
    /<owner>/...                                 the same for label "main"
    /api/v1/<owner>/labels[/<label>/<operation>] label API (JSON)
    /t/<token>/...                               any of the above with a token

Builders take a *base* (``scheme://host[/root_path]``, or ``""`` for a path) and return
the URL with its trailing slash where the page has one. The server's canonical form for
label ``main`` is the short ``/<owner>/...``; clients that only hold an owner URL use the
explicit ``/<owner>/label/<label>/...``, which the hub answers for every label.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from wheelhub.index.names import DEFAULT_LABEL

TOKEN_SEGMENT = "t"  # noqa: S105 (a path segment, not a secret)
LABEL_SEGMENT = "label"
SIMPLE_SEGMENT = "simple"
FILES_SEGMENT = "files"
API_PREFIX = "/api/v1"
HEALTH_PATH = "/_health"
METADATA_SUFFIX = ".metadata"


# -- building -------------------------------------------------------------------------------
def label_path(owner: str, label: str) -> str:
    """``/<owner>`` for label main, ``/<owner>/label/<label>`` otherwise (no trailing slash)."""
    return f"/{owner}" if label == DEFAULT_LABEL else f"/{owner}/{LABEL_SEGMENT}/{label}"


def label_url(base: str, owner: str, label: str) -> str:
    """The label's web page and twine upload URL."""
    return f"{base}{label_path(owner, label)}/"


def simple_url(base: str, owner: str, label: str, project: str | None = None) -> str:
    """The label's simple index, or one project's page in it."""
    url = f"{base}{label_path(owner, label)}/{SIMPLE_SEGMENT}/"
    return f"{url}{project}/" if project else url


def file_url(base: str, owner: str, label: str, filename: str) -> str:
    return f"{base}{label_path(owner, label)}/{FILES_SEGMENT}/{filename}"


def api_url(base: str, owner: str, label: str | None = None, operation: str | None = None) -> str:
    """``/api/v1/<owner>/labels``, or ``.../labels/<label>/<operation>``."""
    url = f"{base}{API_PREFIX}/{owner}/labels"
    if label is None:
        return url
    return f"{url}/{label}/{operation}" if operation else f"{url}/{label}"


def with_token(base: str, token: str) -> str:
    """*base* with the ``/t/<token>`` prefix that lets pip read a private label."""
    return f"{base}/{TOKEN_SEGMENT}/{token}"


def split_token(path: str) -> tuple[str | None, str]:
    """``/t/<token>/rest`` -> (token, ``/rest``); any other path -> (None, path)."""
    marker = f"/{TOKEN_SEGMENT}/"
    if not path.startswith(marker):
        return None, path
    token, _, rest = path[len(marker):].partition("/")
    return token or None, "/" + rest


# -- from an owner URL (what users pass as --to) ---------------------------------------------
def split_owner_url(owner_url: str) -> tuple[str, str]:
    """``http://hub:8080/prefix/acme/`` -> (``http://hub:8080/prefix``, ``acme``)."""
    trimmed = owner_url.rstrip("/")
    base, _, owner = trimmed.rpartition("/")
    if not owner or not urlsplit(trimmed).path.strip("/"):
        return trimmed, ""
    return base, owner


def owner_label_url(owner_url: str, label: str) -> str:
    """The upload URL of *label* under an owner URL (explicit form, valid for every label)."""
    return f"{owner_url.rstrip('/')}/{LABEL_SEGMENT}/{label}/"


def owner_simple_url(owner_url: str, label: str) -> str:
    """The pip index URL of *label* under an owner URL."""
    return f"{owner_label_url(owner_url, label)}{SIMPLE_SEGMENT}/"
