"""The hub's URL scheme, both directions: the one module that knows the shape of its URLs.

The shape is pypi.anaconda.org's, so a hub and anaconda.org read the same::

    /                                            home page: the public owners
    /_health                                     liveness ("ok")
    /<owner>/label/<label>/                      label web page (GET), twine upload (POST)
    /<owner>/label/<label>/simple/[<project>/]   PEP 503/691 index
    /<owner>/label/<label>/files/<filename>      a file; + ".metadata" for PEP 658
    /<owner>/...                                 the same for label "main" (``/<owner>/`` is
                                                 the owner's web page)
    /api/v1/<owner>/labels                       the owner's labels (JSON)
    /api/v1/<owner>/labels/<label>/<operation>   one label: its files, or an operation (JSON)
    /api/v1/<owner>/cache/records[/<prekey>]     build cache records: add (POST), look up (GET)
    /api/v1/<owner>/cache/files/<filename>       a file a cache record names (any label)
    /api/v1/<owner>/<operation>                  owner-wide: retention, prune, audit,
                                                 webhooks, deliveries (JSON)
    /t/<token>/...                               any of the above with a token

Builders take a *base* (``scheme://host[/root_path]``, or ``""`` for a path) and return
the URL with its trailing slash where the page has one. The server's canonical form for
label ``main`` is the short ``/<owner>/...``; clients that only hold an owner URL use the
explicit ``/<owner>/label/<label>/...``, which the hub answers for every label.
:func:`parse_path` is the reverse: a request path to a :class:`Route`.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from urllib.parse import urlsplit

from wheelhub.index.names import (
    DEFAULT_LABEL,
    is_valid_label,
    is_valid_owner,
    is_valid_project,
    normalize_project,
)
from wheelhub.index.simple import METADATA_SUFFIX

TOKEN_SEGMENT = "t"  # noqa: S105 (a path segment, not a secret)
LABEL_SEGMENT = "label"
SIMPLE_SEGMENT = "simple"
FILES_SEGMENT = "files"
API_SEGMENTS = ("api", "v1")
API_LABELS_SEGMENT = "labels"
API_CACHE_SEGMENT = "cache"
CACHE_RECORDS_SEGMENT = "records"
HEALTH_SEGMENT = "_health"
# Owner-wide API operations (``/api/v1/<owner>/<operation>``); the label lifecycle.
API_OWNER_OPERATIONS = ("retention", "prune", "audit", "webhooks", "deliveries")


# -- building -------------------------------------------------------------------------------
def label_path(owner: str, label: str, *, explicit: bool = False) -> str:
    """``/<owner>`` for label main, ``/<owner>/label/<label>`` otherwise (no trailing slash).

    *explicit* spells main the long way too, as clients holding only an owner URL do.
    """
    if label == DEFAULT_LABEL and not explicit:
        return f"/{owner}"
    return f"/{owner}/{LABEL_SEGMENT}/{label}"


def owner_url(base: str, owner: str) -> str:
    """The owner's web page (also label main's upload URL)."""
    return label_url(base, owner, DEFAULT_LABEL)


def label_url(base: str, owner: str, label: str, *, explicit: bool = False) -> str:
    """The label's web page and twine upload URL."""
    return f"{base}{label_path(owner, label, explicit=explicit)}/"


def simple_url(base: str, owner: str, label: str, project: str | None = None, *,
               explicit: bool = False) -> str:
    """The label's simple index, or one project's page in it."""
    url = f"{label_url(base, owner, label, explicit=explicit)}{SIMPLE_SEGMENT}/"
    return f"{url}{project}/" if project else url


def file_url(base: str, owner: str, label: str, filename: str, *,
             explicit: bool = False) -> str:
    return f"{label_url(base, owner, label, explicit=explicit)}{FILES_SEGMENT}/{filename}"


def project_file_href(filename: str) -> str:
    """A file's link on its project page: relative, so the same page works under
    ``/t/<token>/``, for either spelling of main, and behind any proxy prefix."""
    return f"../../{FILES_SEGMENT}/{filename}"


def api_url(base: str, owner: str, label: str | None = None, operation: str = "files") -> str:
    """``/api/v1/<owner>/labels``, or ``.../labels/<label>/<operation>``."""
    url = f"{base}/{'/'.join(API_SEGMENTS)}/{owner}/{API_LABELS_SEGMENT}"
    return url if label is None else f"{url}/{label}/{operation}"


def api_owner_url(base: str, owner: str, operation: str) -> str:
    """``/api/v1/<owner>/<operation>``: one of :data:`API_OWNER_OPERATIONS`."""
    return f"{base}/{'/'.join(API_SEGMENTS)}/{owner}/{operation}"


def cache_records_url(base: str, owner: str, prekey: str | None = None) -> str:
    """``/api/v1/<owner>/cache/records`` (POST), or one pre-key's records (GET)."""
    url = f"{base}/{'/'.join(API_SEGMENTS)}/{owner}/{API_CACHE_SEGMENT}/{CACHE_RECORDS_SEGMENT}"
    return url if prekey is None else f"{url}/{prekey}"


def cache_file_url(base: str, owner: str, filename: str) -> str:
    return f"{base}/{'/'.join(API_SEGMENTS)}/{owner}/{API_CACHE_SEGMENT}/{FILES_SEGMENT}/{filename}"


def health_url(base: str) -> str:
    return f"{base}/{HEALTH_SEGMENT}"


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


# -- install hints ---------------------------------------------------------------------------
EXTRA_INDEX_WARNING = (
    "warning: with --extra-index-url pip takes the highest version from either index, so "
    "anyone can shadow these names on PyPI; give the owner an upstream (`wheelhub owner "
    "upstream OWNER https://pypi.org/simple/`) and install with --index-url alone")


def install_command(index_url: str, project: str = "<package>", *, upstream: bool) -> str:
    """The pip line to print: one ``--index-url`` when the hub serves the owner's upstream,
    ``--extra-index-url`` (with :data:`EXTRA_INDEX_WARNING` beside it) otherwise."""
    flag = "--index-url" if upstream else "--extra-index-url"
    return f"pip install {flag} {index_url} {project}"


# -- parsing --------------------------------------------------------------------------------
class RouteKind(enum.Enum):
    HOME = "home"
    HEALTH = "health"
    LABEL = "label"  # the label's page (GET) and upload URL (POST); the owner page for main
    SIMPLE = "simple"  # the project list (project "") or one project's page
    FILE = "file"
    METADATA = "metadata"  # a file's PEP 658 core metadata
    API_LABELS = "api labels"
    API_LABEL = "api label"  # operation "files" (GET) or a label operation (POST)
    API_OWNER = "api owner"  # an owner-wide operation
    API_CACHE_RECORDS = "api cache records"  # operation: a pre-key (GET), "" (POST)
    API_CACHE_FILE = "api cache file"
    REDIRECT = "redirect"  # a path with no page of its own: go to ``location``
    NOT_FOUND = "not found"


@dataclass(frozen=True, kw_only=True, slots=True)
class Route:
    """What a request path (without its ``/t/<token>`` prefix) names.

    ``location`` is set when the path is a non-canonical spelling (a missing trailing
    slash, a non-normalized project name): readers are redirected there once; a POST to
    a label is still an upload.
    """

    kind: RouteKind
    owner: str = ""
    label: str = DEFAULT_LABEL
    explicit_label: bool = False  # spelled /<owner>/label/<label>/..., even for main
    project: str = ""  # SIMPLE: normalized; "" for the project list
    filename: str = ""  # FILE and METADATA (without the ".metadata" suffix)
    operation: str = ""  # API_LABEL
    location: str = ""

    @property
    def path(self) -> str:
        """The canonical path of this route (the inverse of :func:`parse_path`); for a
        redirect, where it goes; "" when nothing was found."""
        explicit = self.explicit_label
        match self.kind:
            case RouteKind.HOME:
                return "/"
            case RouteKind.HEALTH:
                return health_url("")
            case RouteKind.LABEL:
                return label_url("", self.owner, self.label, explicit=explicit)
            case RouteKind.SIMPLE:
                return simple_url("", self.owner, self.label, self.project, explicit=explicit)
            case RouteKind.FILE | RouteKind.METADATA:
                suffix = METADATA_SUFFIX if self.kind is RouteKind.METADATA else ""
                return file_url("", self.owner, self.label, self.filename + suffix,
                                explicit=explicit)
            case RouteKind.API_LABELS:
                return api_url("", self.owner)
            case RouteKind.API_LABEL:
                return api_url("", self.owner, self.label, self.operation)
            case RouteKind.API_OWNER:
                return api_owner_url("", self.owner, self.operation)
            case RouteKind.API_CACHE_RECORDS:
                return cache_records_url("", self.owner, self.operation or None)
            case RouteKind.API_CACHE_FILE:
                return cache_file_url("", self.owner, self.filename)
        return self.location


_NOT_FOUND = Route(kind=RouteKind.NOT_FOUND)


def parse_path(path: str) -> Route:
    """The route of a request path (after :func:`split_token`); never raises.

    An owner, label or project segment that is not a valid name is not found: nothing
    by that name can exist, and no odd spelling (``//host``, ``/\\host``, a newline) is
    ever echoed back into a redirect or served as another page.
    """
    head, *rest = path.split("/")[1:] or [""]
    if path == "/":
        return Route(kind=RouteKind.HOME)
    if head == HEALTH_SEGMENT and not rest:
        return Route(kind=RouteKind.HEALTH)
    if head == API_SEGMENTS[0]:
        return _parse_api(rest)
    if not is_valid_owner(head):
        return _NOT_FOUND
    route = Route(kind=RouteKind.LABEL, owner=head)
    if rest[:1] == [LABEL_SEGMENT]:
        if len(rest) < 2 or not rest[1]:
            return Route(kind=RouteKind.REDIRECT, owner=head, location=owner_url("", head))
        if not is_valid_label(rest[1]):
            return _NOT_FOUND
        route = dataclasses.replace(route, label=rest[1], explicit_label=True)
        rest = rest[2:]
    if not rest:
        return dataclasses.replace(route, location=route.path)
    if rest == [""]:
        return route
    if rest[0] == SIMPLE_SEGMENT:
        return _parse_simple(dataclasses.replace(route, kind=RouteKind.SIMPLE), rest[1:])
    if rest[0] == FILES_SEGMENT and len(rest) == 2 and rest[1]:
        name = rest[1]
        if name.endswith(METADATA_SUFFIX):
            return dataclasses.replace(route, kind=RouteKind.METADATA,
                                       filename=name.removesuffix(METADATA_SUFFIX))
        return dataclasses.replace(route, kind=RouteKind.FILE, filename=name)
    return _NOT_FOUND


def _parse_simple(route: Route, rest: list[str]) -> Route:
    """``.../simple/`` and ``.../simple/<project>/``; other spellings redirect to the short form."""
    canonical = dataclasses.replace(route, explicit_label=False)
    if not rest:
        return dataclasses.replace(route, location=canonical.path)
    if rest == [""]:
        return route
    project, *tail = rest
    if not is_valid_project(project) or tail not in ([], [""]):
        return _NOT_FOUND
    normalized = normalize_project(project)
    found = dataclasses.replace(route, project=normalized)
    if tail and project == normalized:
        return found
    return dataclasses.replace(found, location=dataclasses.replace(canonical,
                                                                   project=normalized).path)


def _parse_api(rest: list[str]) -> Route:
    """``v1/<owner>/labels[/]``, ``v1/<owner>/labels/<label>/<operation>``, the cache and
    ``v1/<owner>/<owner operation>``."""
    if len(rest) >= 3 and tuple(rest[:1]) == API_SEGMENTS[1:] and rest[2] == API_CACHE_SEGMENT:
        return _parse_cache(rest[1], rest[3:])
    if len(rest) == 3 and tuple(rest[:1]) == API_SEGMENTS[1:] and is_valid_owner(rest[1]) \
            and rest[2] in API_OWNER_OPERATIONS:
        return Route(kind=RouteKind.API_OWNER, owner=rest[1], operation=rest[2])
    if len(rest) < 3 or tuple(rest[:1]) != API_SEGMENTS[1:] or rest[2] != API_LABELS_SEGMENT:
        return _NOT_FOUND
    owner, tail = rest[1], rest[3:]
    if not is_valid_owner(owner) or (len(tail) == 2 and not is_valid_label(tail[0])):
        return _NOT_FOUND
    if tail in ([], [""]):
        return Route(kind=RouteKind.API_LABELS, owner=owner)
    if len(tail) != 2:
        return _NOT_FOUND
    return Route(kind=RouteKind.API_LABEL, owner=owner, label=tail[0], operation=tail[1])


def _is_prekey(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _parse_cache(owner: str, tail: list[str]) -> Route:
    """``records``, ``records/<prekey>`` and ``files/<filename>`` under ``v1/<owner>/cache``."""
    if not is_valid_owner(owner) or len(tail) not in (1, 2):
        return _NOT_FOUND
    if tail == [CACHE_RECORDS_SEGMENT]:
        return Route(kind=RouteKind.API_CACHE_RECORDS, owner=owner)
    if len(tail) == 2 and tail[0] == CACHE_RECORDS_SEGMENT and _is_prekey(tail[1]):
        return Route(kind=RouteKind.API_CACHE_RECORDS, owner=owner, operation=tail[1])
    if len(tail) == 2 and tail[0] == FILES_SEGMENT and tail[1] and "\\" not in tail[1]:
        return Route(kind=RouteKind.API_CACHE_FILE, owner=owner, filename=tail[1])
    return _NOT_FOUND
