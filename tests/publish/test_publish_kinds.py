"""The registry of target kinds: what --to names, its token, its index URL, its label rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dists import Pkg, make_wheelhouse
from wheelhub.options import OPTIONS
from wheelhub.publish import publish
from wheelhub.publish.errors import LabelError, TargetError
from wheelhub.publish.kinds import KINDS, detect, named, target_kind
from wheelhub.publish.model import PublishOptions


@pytest.mark.parametrize(("to", "kind"), [
    ("file:///srv/index", "dir"),
    ("https://pypi.anaconda.org/acme", "anaconda"),
    ("https://anaconda.org/acme", "anaconda"),
    ("http://hub.example:8080/acme", "index"),  # a hub only once it answers as one
    ("https://devpi.example/u/dev/", "index"),
])
def test_detect_from_the_url_alone(to: str, kind: str) -> None:
    assert detect(to).name == kind
    assert target_kind("auto", to).name == kind
    assert target_kind("hub", to).name == "hub"  # --kind wins


@pytest.mark.parametrize("to", ["ftp://host/x", "http://", "hub.example/acme"])
def test_unusable_urls_are_refused(to: str) -> None:
    with pytest.raises(TargetError, match="is not usable"):
        detect(to)


def test_token_variables() -> None:
    assert {kind.name: kind.token_env for kind in KINDS} == {
        "hub": "WHEELHUB_TOKEN", "index": "WHEELHUB_TOKEN", "anaconda": "ANACONDA_TOKEN",
        "dir": ""}  # a directory needs no token
    options = PublishOptions(wheelhouse=Path(), to="http://hub/acme", label="x",
                             token_env="HUB_TOKEN")
    assert named("hub").token_env_of(options) == "HUB_TOKEN"


@pytest.mark.parametrize(("kind", "to", "index"), [
    ("hub", "http://hub.example:8080/acme/", "http://hub.example:8080/acme/label/dev/simple/"),
    ("anaconda", "https://anaconda.org/acme", "https://pypi.anaconda.org/acme/label/dev/simple/"),
    ("dir", "file:///srv/index", "file:///srv/index/dev/simple/"),
    ("index", "https://devpi.example/u/dev/", "https://devpi.example/u/dev/simple/"),
])
def test_where_pip_reads_a_label(kind: str, to: str, index: str) -> None:
    assert named(kind).index_url(to, "dev") == index


def test_one_label_rule_and_anaconda_wants_a_letter_first() -> None:
    for kind in KINDS:
        assert kind.check_label("feature-x") == "feature-x"
        with pytest.raises(LabelError, match="label '../etc' is not valid"):
            kind.check_label("../etc")
    assert named("hub").check_label("123") == "123"  # the hub's rule allows a digit first
    assert named("dir").check_label("1.0+local") == "1.0+local"
    with pytest.raises(LabelError) as caught:
        named("anaconda").check_label("123")
    assert "anaconda.org labels start with a letter" in (caught.value.hint or "")
    assert "'branch-123'" in (caught.value.hint or "")


def test_kind_choices_of_the_options_table_are_the_registry() -> None:
    (spec,) = [spec for spec in OPTIONS if spec.name == "publish.kind"]
    assert set(spec.choices) == {"auto", *(kind.name for kind in KINDS)}


@pytest.mark.parametrize(("kind", "to", "why"), [
    ("dir", "file://server/share", "file:///absolute/path"),
    ("dir", "http://hub/acme", "file:///absolute/path"),
    ("anaconda", "https://pypi.anaconda.org/", "needs the owner"),
])
def test_opening_a_malformed_target(kind: str, to: str, why: str) -> None:
    options = PublishOptions(wheelhouse=Path(), to=to, label="dev", kind=kind)
    with pytest.raises(TargetError, match=why):
        named(kind).open(options)


def test_the_result_says_where_pip_reads_the_label(tmp_path: Path) -> None:
    house = make_wheelhouse(tmp_path / "house", [Pkg("alpha")])
    to = f"file://{tmp_path / 'index'}"
    result = publish(PublishOptions(wheelhouse=house, to=to, label="dev"))
    assert result.index_url == f"{to}/dev/simple/"
    assert (tmp_path / "index" / "dev" / "simple" / "alpha" / "index.html").is_file()
