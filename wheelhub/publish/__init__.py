"""Publish a wheelhouse to a label: ``publish(PublishOptions) -> PublishResult``.

The target kind follows ``--to`` (see :mod:`wheelhub.publish.kinds`): ``file:///DIR`` is
a static PEP 503/691 tree, anaconda.org goes through anaconda-client, and any other
http(s) URL is a twine-compatible index, or a wheelhub hub when it answers as one (then
the label goes into the URL; otherwise the label is ignored, which the result notes).
The planner (:mod:`.planner`) does the rest, the same for every kind.
"""

from __future__ import annotations

import dataclasses
import time

from wheelhub.publish.index import IndexTarget
from wheelhub.publish.kinds import target_kind
from wheelhub.publish.model import Candidate, FileResult, PublishOptions, PublishResult
from wheelhub.publish.planner import Sleep, run
from wheelhub.publish.target import Target, UploadFailedError
from wheelhub.publish.wheelhouse import select
from wheelhub.util.log import get_logger

__all__ = ["Candidate", "FileResult", "PublishOptions", "PublishResult", "Target",
           "UploadFailedError", "open_target", "publish"]

log = get_logger("publish")


def open_target(options: PublishOptions) -> Target:
    return target_kind(options.kind, options.to).open(options)


def publish(options: PublishOptions, *, target: Target | None = None,
            sleep: Sleep = time.sleep) -> PublishResult:
    """Publish the good wheels of ``options.wheelhouse`` to ``options.to`` under its label."""
    target_kind(options.kind, options.to).check_label(options.label)
    selection = select(options.wheelhouse, allow_untested=options.allow_untested)
    for held in selection.held_back:
        log.info("not published: %s", held)
    target = target or open_target(options)
    upstream: bool | None = None
    try:
        if isinstance(target, IndexTarget) and target.kind == "hub":
            if options.label_bases and not options.dry_run:
                target.ensure_label(options.to, options.label, options.label_bases)
            upstream = target.has_upstream(options.to)
        result = run(target, selection.candidates, options, held_back=selection.held_back,
                     sleep=sleep)
    finally:
        target.close()
    # the kind that was opened: an index may have turned out to be a hub
    index_url = target_kind(result.kind, options.to).index_url(options.to, options.label)
    return dataclasses.replace(result, index_url=index_url, upstream=upstream)
