"""The hub's URL scheme, both directions: what the builders make parses back to the route."""

from __future__ import annotations

from dataclasses import replace

import pytest

from wheelhub.index.urls import (
    Route,
    RouteKind,
    api_url,
    file_url,
    health_url,
    label_url,
    owner_label_url,
    owner_simple_url,
    owner_url,
    parse_path,
    simple_url,
    split_owner_url,
    split_token,
    with_token,
)

K = RouteKind
DEV = Route(kind=K.LABEL, owner="acme", label="dev", explicit_label=True)

# (path as built, the route it names); every route's .path is the built path
CANONICAL: list[tuple[str, Route]] = [
    ("/", Route(kind=K.HOME)),
    (health_url(""), Route(kind=K.HEALTH)),
    (owner_url("", "acme"), Route(kind=K.LABEL, owner="acme")),
    (label_url("", "acme", "main", explicit=True),
     Route(kind=K.LABEL, owner="acme", explicit_label=True)),
    (label_url("", "acme", "dev"), DEV),
    (simple_url("", "acme", "main"), Route(kind=K.SIMPLE, owner="acme")),
    (simple_url("", "acme", "main", "tiny-pkg"),
     Route(kind=K.SIMPLE, owner="acme", project="tiny-pkg")),
    (simple_url("", "acme", "main", "tiny-pkg", explicit=True),
     Route(kind=K.SIMPLE, owner="acme", explicit_label=True, project="tiny-pkg")),
    (simple_url("", "acme", "dev"), replace(DEV, kind=K.SIMPLE)),
    (simple_url("", "acme", "dev", "tiny-pkg"), replace(DEV, kind=K.SIMPLE, project="tiny-pkg")),
    (file_url("", "acme", "main", "t-1.0-py3-none-any.whl"),
     Route(kind=K.FILE, owner="acme", filename="t-1.0-py3-none-any.whl")),
    (file_url("", "acme", "dev", "t-1.0.tar.gz"),
     replace(DEV, kind=K.FILE, filename="t-1.0.tar.gz")),
    (file_url("", "acme", "dev", "t-1.0-py3-none-any.whl.metadata"),
     replace(DEV, kind=K.METADATA, filename="t-1.0-py3-none-any.whl")),
    (api_url("", "acme"), Route(kind=K.API_LABELS, owner="acme")),
    (api_url("", "acme", "dev", "files"),
     Route(kind=K.API_LABEL, owner="acme", label="dev", operation="files")),
    (api_url("", "acme", "dev", "copy"),
     Route(kind=K.API_LABEL, owner="acme", label="dev", operation="copy")),
]


@pytest.mark.parametrize(("path", "route"), CANONICAL, ids=[path for path, _ in CANONICAL])
def test_built_paths_parse_to_their_route_and_back(path: str, route: Route) -> None:
    assert parse_path(path) == route
    assert route.path == path


@pytest.mark.parametrize(("path", "route"), CANONICAL, ids=[path for path, _ in CANONICAL])
def test_full_urls_under_a_prefix_and_a_token_parse_the_same(path: str, route: Route) -> None:
    base = with_token("https://hub.example:8443/pypi", "whk_secret")
    url = base + path
    root, _, rest = url.partition("/pypi")
    assert root == "https://hub.example:8443"
    assert split_token(rest) == ("whk_secret", path)
    assert parse_path(split_token(rest)[1]) == route


# (requested path, where the hub sends the reader)
REDIRECTS = [
    ("/acme", "/acme/"),
    ("/acme/label/dev", "/acme/label/dev/"),
    ("/acme/label/main", "/acme/label/main/"),
    ("/acme/simple", "/acme/simple/"),
    ("/acme/label/dev/simple", "/acme/label/dev/simple/"),
    ("/acme/label/main/simple", "/acme/simple/"),
    ("/acme/simple/tiny-pkg", "/acme/simple/tiny-pkg/"),
    ("/acme/simple/Tiny_Pkg/", "/acme/simple/tiny-pkg/"),
    ("/acme/label/dev/simple/TINY.pkg", "/acme/label/dev/simple/tiny-pkg/"),
    ("/acme/label/main/simple/Tiny_Pkg/", "/acme/simple/tiny-pkg/"),
    ("/acme/label", "/acme/"),
    ("/acme/label/", "/acme/"),
]


@pytest.mark.parametrize(("path", "location"), REDIRECTS, ids=[path for path, _ in REDIRECTS])
def test_non_canonical_spellings_redirect_once(path: str, location: str) -> None:
    route = parse_path(path)
    assert route.location == location
    target = parse_path(location)
    assert target.location == ""
    if route.kind is not K.REDIRECT:  # the same page, spelled the canonical way
        assert (target.kind, target.owner, target.label, target.project) == (
            route.kind, route.owner, route.label, route.project)


def test_a_label_url_without_its_slash_is_still_the_upload_target() -> None:
    assert parse_path("/acme/label/dev") == replace(DEV, location="/acme/label/dev/")


@pytest.mark.parametrize("path", [
    "/acme/other", "/acme/label/dev/other/", "/acme/simple/tiny-pkg/extra",
    "/acme/simple//", "/acme/files/", "/acme/files/a/b", "/api", "/api/v2/acme/labels",
    "/api/v1/acme/owners", "/api/v1/acme/labels/dev", "/api/v1/acme/labels/dev/files/x",
])
def test_unknown_paths_are_not_found(path: str) -> None:
    assert parse_path(path).kind is K.NOT_FOUND


def test_token_prefix() -> None:
    assert split_token("/t/whk_abc/acme/simple/") == ("whk_abc", "/acme/simple/")
    assert split_token("/t/whk_abc") == ("whk_abc", "/")
    assert split_token("/acme/t/x/") == (None, "/acme/t/x/")
    assert split_token("/t//acme/") == (None, "/acme/")


@pytest.mark.parametrize(("owner_url_", "base", "owner"), [
    ("http://hub:8080/acme", "http://hub:8080", "acme"),
    ("http://hub:8080/prefix/acme/", "http://hub:8080/prefix", "acme"),
    ("http://hub:8080/", "http://hub:8080", ""),
])
def test_owner_urls_split_into_base_and_owner(owner_url_: str, base: str, owner: str) -> None:
    assert split_owner_url(owner_url_) == (base, owner)
    if owner:
        assert owner_label_url(owner_url_, "dev") == label_url(base, owner, "dev")
        assert owner_simple_url(owner_url_, "main") == simple_url(base, owner, "main",
                                                                  explicit=True)
