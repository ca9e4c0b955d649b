"""Publish a wheelhouse to a label: ``publish(PublishOptions) -> PublishResult``.

The target kind follows ``--to``:

* ``file:///DIR`` -> a static PEP 503/691 tree in DIR (:mod:`wheelhub.publish.static`);
* host ``pypi.anaconda.org`` / ``anaconda.org`` -> anaconda-client (:mod:`.anaconda`);
* any other http(s) URL -> a twine-compatible index (:mod:`.index`). If
  ``<to>/label/<label>/simple/`` answers as a wheelhub hub (or the hub's ``/_health``
  does), the label goes into the URL; otherwise the files go to ``--to`` as given
  (devpi, pypiserver, Artifactory) and the label is ignored, which the result notes.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from wheelhub.publish.anaconda import ANACONDA_HOSTS, AnacondaTarget, ApiFactory
from wheelhub.publish.errors import TargetError
from wheelhub.publish.index import IndexTarget, probe_hub
from wheelhub.publish.labels import check_label
from wheelhub.publish.model import (
    Candidate,
    FileResult,
    Kind,
    PublishOptions,
    PublishResult,
)
from wheelhub.publish.planner import Sleep, run
from wheelhub.publish.static import StaticTarget
from wheelhub.publish.target import Target, UploadFailedError
from wheelhub.publish.wheelhouse import select
from wheelhub.util.log import get_logger
from wheelhub.util.redact import redact

__all__ = ["Candidate", "FileResult", "Kind", "PublishOptions", "PublishResult", "Target",
           "UploadFailedError", "detect_kind", "open_target", "publish"]

log = get_logger("publish")


def detect_kind(to: str) -> Kind:
    """The target kind ``--to`` names without asking the network ('index' may become 'hub')."""
    parts = urlsplit(to)
    if parts.scheme == "file":
        return "dir"
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise TargetError.bad_url(redact(to), "expected file://, http:// or https://")
    if (parts.hostname or "") in ANACONDA_HOSTS:
        return "anaconda"
    return "index"


def open_target(options: PublishOptions, *, anaconda_api: ApiFactory | None = None) -> Target:
    kind = options.kind if options.kind != "auto" else detect_kind(options.to)
    to = options.to
    if kind == "dir":
        parts = urlsplit(to)
        if parts.scheme != "file" or parts.netloc not in {"", "localhost"}:
            raise TargetError.bad_url(to, "a directory target is file:///absolute/path")
        return StaticTarget(Path(unquote(parts.path)), options.label)
    if kind == "anaconda":
        owner = urlsplit(to).path.strip("/").split("/")[0]
        if not owner:
            raise TargetError.bad_url(redact(to), "anaconda.org needs the owner: "
                                      "https://pypi.anaconda.org/OWNER")
        return AnacondaTarget(owner=owner, label=options.label, token=options.token,
                              token_env=options.token_env, api_factory=anaconda_api)
    base = to.rstrip("/")
    if kind == "hub" or (kind == "index" and options.kind == "auto"
                         and probe_hub(base, options.label, options.token)):
        return IndexTarget(upload_url=f"{base}/label/{options.label}/",
                           index_url=f"{base}/label/{options.label}/simple/", kind="hub",
                           token=options.token, token_env=options.token_env,
                           username=options.username, timeout=options.timeout)
    note = (f"{redact(base)} is not a wheelhub hub: uploading to it as given; "
            f"--label '{options.label}' is ignored (the index decides where files go)")
    log.info("%s", note)
    return IndexTarget(upload_url=to, index_url=f"{base}/simple/", kind="index",
                       token=options.token, token_env=options.token_env,
                       username=options.username, timeout=options.timeout, notes=(note,))


def publish(options: PublishOptions, *, target: Target | None = None,
            anaconda_api: ApiFactory | None = None, sleep: Sleep = time.sleep) -> PublishResult:
    """Publish the good wheels of ``options.wheelhouse`` to ``options.to`` under its label."""
    check_label(options.label)
    selection = select(options.wheelhouse, allow_untested=options.allow_untested)
    for held in selection.held_back:
        log.info("not published: %s", held)
    target = target or open_target(options, anaconda_api=anaconda_api)
    try:
        return run(target, selection.candidates, options, held_back=selection.held_back,
                   sleep=sleep)
    finally:
        target.close()
