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

from wheelhub.cache.records import CacheRecord
from wheelhub.cache.sources import post_records, static_root, write_static_records
from wheelhub.manifest import Manifest
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
    notes = result.notes
    if not options.dry_run:
        notes = (*notes, record_cache(options, result))
    return dataclasses.replace(result, index_url=index_url, upstream=upstream, notes=notes)


def record_cache(options: PublishOptions, result: PublishResult) -> str:
    """Cache records for every entry whose files are all in the label now: on a hub per
    owner, in a static tree beside the labels; other targets have no place for them."""
    there = {f.filename for f in result.files if f.status in {"uploaded", "skipped"}}
    records = [r for e in Manifest.load(options.wheelhouse).entries
               if (r := CacheRecord.from_entry(e)) is not None
               and all(w.filename in there for w in r.wheels)]
    if result.kind == "hub":
        line = post_records(options.to, options.label, records, token=options.token,
                            timeout=options.timeout)
    elif result.kind == "dir":
        root = static_root(options.to)
        assert root is not None
        line = write_static_records(root, options.label, records)
    else:
        line = (f"no cache records: a {result.kind} target has no place for them (a hub or a "
                "static tree can serve as the cache, see `wheelhub build --cache-from`)")
    log.info("%s", line)
    return line
