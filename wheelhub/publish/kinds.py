"""Publish target kinds: what ``--to`` names, the token it takes, where pip reads a label.

One entry per kind in :data:`KINDS`, in the order :func:`detect` tries them (the most
specific first). A URL alone never says "hub": an http(s) ``--to`` is an ``index`` until
opening it finds a hub there (``--kind hub`` skips that probe).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit

from wheelhub.errors import ConfigError
from wheelhub.index.urls import owner_label_url, owner_simple_url
from wheelhub.publish.anaconda import ANACONDA_HOSTS, AnacondaTarget
from wheelhub.publish.errors import LabelError, TargetError
from wheelhub.publish.index import IndexTarget, probe_hub
from wheelhub.publish.labels import LabelRules, check_label
from wheelhub.publish.model import PublishOptions
from wheelhub.publish.static import StaticTarget
from wheelhub.publish.target import Target
from wheelhub.util.log import get_logger
from wheelhub.util.redact import redact

log = get_logger("publish")

_HTTP = frozenset({"http", "https"})


@dataclass(frozen=True, kw_only=True, slots=True)
class TargetKind(ABC):
    """A kind of target: how a ``--to`` of it looks, its token, its index, how to open it."""

    name: str
    token_env: str  # where the token comes from unless --token-env says; "" needs none
    example: str  # a --to of this kind, for --help
    summary: str

    def matches(self, url: SplitResult) -> bool:
        """Whether ``--to`` names this kind, without asking the network."""
        return False

    def check_label(self, label: str) -> str:
        """The label rule of this kind's index (the hub's, unless the index is stricter)."""
        return check_label(label)

    @abstractmethod
    def index_url(self, to: str, label: str) -> str:
        """Where pip reads what a publish to *label* put there."""

    @abstractmethod
    def open(self, options: PublishOptions) -> Target: ...

    def token_env_of(self, options: PublishOptions) -> str:
        return options.token_env or self.token_env


@dataclass(frozen=True, kw_only=True, slots=True)
class _Hub(TargetKind):
    def index_url(self, to: str, label: str) -> str:
        return owner_simple_url(to, label)

    def open(self, options: PublishOptions) -> Target:
        return IndexTarget(upload_url=owner_label_url(options.to, options.label),
                           index_url=self.index_url(options.to, options.label), kind=self.name,
                           token=options.token, token_env=self.token_env_of(options),
                           username=options.username, timeout=options.timeout)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Index(TargetKind):
    def matches(self, url: SplitResult) -> bool:
        return url.scheme in _HTTP and bool(url.netloc)

    def index_url(self, to: str, label: str) -> str:
        return f"{to.rstrip('/')}/simple/"  # one index: the label does not enter it

    def open(self, options: PublishOptions) -> Target:
        if options.kind == "auto" and probe_hub(options.to, options.label, options.token):
            return HUB.open(options)
        note = (f"{redact(options.to.rstrip('/'))} is not a wheelhub hub: uploading to it as "
                f"given; --label '{options.label}' is ignored (the index decides where files go)")
        log.info("%s", note)
        return IndexTarget(upload_url=options.to, index_url=self.index_url(options.to, options.label),
                           kind=self.name, token=options.token,
                           token_env=self.token_env_of(options), username=options.username,
                           timeout=options.timeout, notes=(note,))


@dataclass(frozen=True, kw_only=True, slots=True)
class _Anaconda(TargetKind):
    def matches(self, url: SplitResult) -> bool:
        return url.scheme in _HTTP and (url.hostname or "") in ANACONDA_HOSTS

    def check_label(self, label: str) -> str:
        check_label(label)
        if not label[0].isalpha():  # anaconda.org's own rule, stricter than ours
            raise LabelError.invalid(label, "anaconda.org labels start with a letter; for "
                                     f"example '{LabelRules().leading_digit_prefix}{label}'")
        return label

    def index_url(self, to: str, label: str) -> str:
        # pypi.anaconda.org's URLs have the hub's shape (wheelhub.index.urls)
        return owner_simple_url(f"https://pypi.anaconda.org/{_anaconda_owner(to)}", label)

    def open(self, options: PublishOptions) -> Target:
        return AnacondaTarget(owner=_anaconda_owner(options.to), label=options.label,
                              token=options.token, token_env=self.token_env_of(options))


def _anaconda_owner(to: str) -> str:
    owner = urlsplit(to).path.strip("/").split("/")[0]
    if not owner:
        raise TargetError.bad_url(redact(to), "anaconda.org needs the owner: "
                                  "https://pypi.anaconda.org/OWNER")
    return owner


@dataclass(frozen=True, kw_only=True, slots=True)
class _Dir(TargetKind):
    def matches(self, url: SplitResult) -> bool:
        return url.scheme == "file"

    def index_url(self, to: str, label: str) -> str:
        return f"{to.rstrip('/')}/{label}/simple/"

    def open(self, options: PublishOptions) -> Target:
        url = urlsplit(options.to)
        if not self.matches(url) or url.netloc not in {"", "localhost"}:
            raise TargetError.bad_url(options.to, "a directory target is file:///absolute/path")
        return StaticTarget(Path(unquote(url.path)), options.label)


# (token_env values are variable names, not secrets: S106 does not apply)
HUB = _Hub(name="hub", token_env="WHEELHUB_TOKEN", example="http://hub:8080/OWNER",  # noqa: S106
           summary="a wheelhub hub: files go to OWNER's label")
KINDS: tuple[TargetKind, ...] = (
    _Dir(name="dir", token_env="", example="file:///srv/index",
         summary="a static PEP 503/691 tree, one subtree per label"),
    _Anaconda(name="anaconda", token_env="ANACONDA_TOKEN",  # noqa: S106
              example="https://pypi.anaconda.org/OWNER",
              summary="anaconda.org via anaconda-client, files get the label"),
    HUB,
    _Index(name="index", token_env="WHEELHUB_TOKEN", example="https://devpi.example/u/dev/",  # noqa: S106
           summary="devpi, pypiserver, Artifactory, GitLab...: uploaded to as given, "
           "no label"),
)


def named(name: str) -> TargetKind:
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise ConfigError.unknown_key(name, "publish.kind", [kind.name for kind in KINDS])


def detect(to: str) -> TargetKind:
    """The kind ``--to`` names without asking the network (an ``index`` may be a hub)."""
    url = urlsplit(to)
    for kind in KINDS:
        if kind.matches(url):
            return kind
    raise TargetError.bad_url(redact(to), "expected file://, http:// or https://")


def target_kind(kind: str, to: str) -> TargetKind:
    """``--kind`` as given, or detected from ``--to`` for ``auto``."""
    return detect(to) if kind == "auto" else named(kind)
