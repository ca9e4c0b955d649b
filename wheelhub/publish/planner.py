"""The common part of every publish: compare, upload concurrently with retries, verify.

1. select the wheels the manifest allows (wheelhouse.select);
2. read the target label's index: same name and sha256 -> skipped, same name and another
   sha256 -> a conflict for that file (the others still go);
3. upload the first file alone (a refused token stops here, having changed nothing), then
   the rest with at most ``jobs`` at once; transient errors are retried with exponential
   backoff; a 409 after a dropped attempt is checked against the index, because the
   dropped attempt may have landed;
4. let the target finish (the static index writes its pages);
5. read the index again: an upload that is not listed with its sha256 is reported failed,
   never as done.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Sequence

from wheelhub.publish.model import Candidate, FileResult, PublishOptions, PublishResult
from wheelhub.publish.target import Listing, Target, UploadFailedError
from wheelhub.util.log import get_logger, prefix

log = get_logger("publish")

Sleep = Callable[[float], None]


def plan(candidates: Sequence[Candidate], remote: Listing
         ) -> tuple[list[Candidate], list[FileResult]]:
    """(to upload, already decided: skipped and conflicts)."""
    todo: list[Candidate] = []
    decided: list[FileResult] = []
    for candidate in candidates:
        there = remote.get(candidate.filename)
        if there is None:
            todo.append(candidate)
        elif there in ("", candidate.sha256):
            detail = "already there" if there else "already there (index shows no sha256)"
            decided.append(FileResult(filename=candidate.filename, project=candidate.project,
                                      status="skipped", detail=detail))
        else:
            decided.append(FileResult(
                filename=candidate.filename, project=candidate.project, status="conflict",
                detail=f"already there with sha256 {there[:12]}..., ours is "
                f"{candidate.sha256[:12]}...; bump the version or build tag"))
    return todo, decided


def upload_one(target: Target, candidate: Candidate, options: PublishOptions,
               sleep: Sleep = time.sleep) -> FileResult:
    started = time.monotonic()
    attempt = 0
    with prefix(candidate.filename):
        while True:
            attempt += 1
            try:
                target.upload(candidate)
            except UploadFailedError as failure:
                if failure.conflict and attempt > 1 and _landed(target, candidate):
                    return _result(candidate, "uploaded", "stored by an earlier attempt",
                                   attempt, started)
                if failure.conflict:
                    return _result(candidate, "conflict", failure.message, attempt, started)
                if failure.transient and attempt <= options.retries:
                    delay = options.backoff * 2 ** (attempt - 1)
                    log.warning("attempt %d failed (%s); retrying in %.1fs",
                                attempt, failure.message, delay)
                    sleep(delay)
                    continue
                tries = f" (gave up after {attempt} attempts)" if failure.transient else ""
                return _result(candidate, "failed", failure.message + tries, attempt, started)
            log.info("uploaded")
            return _result(candidate, "uploaded", "", attempt, started)


def _landed(target: Target, candidate: Candidate) -> bool:
    try:
        return target.existing([candidate.project]).get(candidate.filename) == candidate.sha256
    except Exception:
        return False


def _result(candidate: Candidate, status: str, detail: str, attempts: int,
            started: float) -> FileResult:
    return FileResult(filename=candidate.filename, project=candidate.project,
                      status=status,  # type: ignore[arg-type]
                      detail=detail, attempts=attempts,
                      seconds=round(time.monotonic() - started, 3))


def upload_all(target: Target, todo: Sequence[Candidate], options: PublishOptions,
               sleep: Sleep = time.sleep) -> list[FileResult]:
    if not todo:
        return []
    results = [upload_one(target, todo[0], options, sleep)]  # a bad token stops here
    rest = todo[1:]
    if not rest:
        return results
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, options.jobs),
                                                 thread_name_prefix="publish")
    try:
        futures = [pool.submit(upload_one, target, c, options, sleep) for c in rest]
        for future in futures:
            results.append(future.result())  # TargetAuthError propagates
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def verify(target: Target, results: list[FileResult], candidates: Sequence[Candidate]
           ) -> list[FileResult]:
    """Re-read the index; an upload not listed with our sha256 is a failure."""
    uploaded = {r.filename for r in results if r.status == "uploaded"}
    if not uploaded:
        return results
    by_name = {c.filename: c for c in candidates}
    listing = target.existing({by_name[name].project for name in uploaded})
    checked = []
    for result in results:
        there = listing.get(result.filename)
        if result.status == "uploaded" and there not in (by_name[result.filename].sha256, ""):
            what = "missing" if there is None else f"listed with sha256 {there[:12]}..."
            checked.append(FileResult(
                filename=result.filename, project=result.project, status="failed",
                attempts=result.attempts, seconds=result.seconds,
                detail=f"the index accepted it but it is {what} afterwards"))
        else:
            checked.append(result)
    return checked


def run(target: Target, candidates: Sequence[Candidate], options: PublishOptions, *,
        held_back: Sequence[str] = (), sleep: Sleep = time.sleep) -> PublishResult:
    remote = target.existing({c.project for c in candidates})
    todo, decided = plan(candidates, remote)
    log.info("%s: %d to upload, %d already there, %d conflicting", target.description,
             len(todo), sum(1 for d in decided if d.status == "skipped"),
             sum(1 for d in decided if d.status == "conflict"))
    if options.dry_run:
        results = [FileResult(filename=c.filename, project=c.project, status="would-upload")
                   for c in todo]
    else:
        results = upload_all(target, todo, options, sleep)
        target.finish([c for c in todo
                       if any(r.filename == c.filename and r.status == "uploaded"
                              for r in results)])
        results = verify(target, results, candidates)
    return PublishResult(target=target.description, kind=target.kind, label=options.label,
                         files=tuple(decided + results), held_back=tuple(held_back),
                         notes=tuple(target.notes))
