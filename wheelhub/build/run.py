"""``wheelhub.build.run(options)``: requirements → repaired wheelhouse, one session per prefix.

Flow: parse inputs → inspect the image → plan (cache verdicts) → run the prefixes
that have work in parallel (up to ``jobs``) → prune stale wheels → manifest and
reports. A failing package or prefix never discards the others' wheels; the
manifest is saved after every entry, so Ctrl-C leaves it consistent. When the run stops
early (a signal, a full disk, a lost daemon), what it did not finish is recorded as
``interrupted``, never as failed, and the next run builds exactly that.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from wheelhub.build.errors import DISK_FULL, HermeticError, HookError, WheelhouseError
from wheelhub.build.plan import CommonInputs, Plan, PlannedEntry, digest_of, make_plan
from wheelhub.build.prefetch import Prefetch
from wheelhub.build.remote import restore
from wheelhub.build.report import write_reports
from wheelhub.build.requirements import RequirementSet, parse_requirements
from wheelhub.build.results import BuildResult, PrefixFailure
from wheelhub.build.schedule import CpuSlots, PureOnce
from wheelhub.build.sdists import SharedSdists
from wheelhub.build.shards import Knowledge, Shard, only_shard
from wheelhub.build.steps import LogCapture, PrefixBuild, SetupFailed
from wheelhub.build.timings import Timings
from wheelhub.build.tools import HostTools
from wheelhub.build.wheelhouse import Wheelhouse, check_writable, describe, remove_partial_files
from wheelhub.cache.sources import CacheSource, open_sources
from wheelhub.engines import make_engine
from wheelhub.engines.base import Engine, ImageInfo, Session
from wheelhub.engines.cache import prune
from wheelhub.engines.errors import EngineError
from wheelhub.engines.pythons import PythonPrefix
from wheelhub.errors import Interrupted, WheelhubError, stop_status
from wheelhub.manifest import Entry, Manifest, ManifestWriter
from wheelhub.options import BuildOptions
from wheelhub.util.log import get_logger, prefix

logger = get_logger("build")


@dataclass(frozen=True, kw_only=True, slots=True)
class Shared:
    """What the prefixes of a run share."""

    slots: CpuSlots  # one CPU budget for the whole run
    pure: PureOnce  # pure wheels built once
    sdists: SharedSdists | None  # sdists to build from source, fetched once on the host
    tools: HostTools  # uv and ccache, fetched once on the host


def load_inputs(options: BuildOptions) -> tuple[RequirementSet, RequirementSet | None]:
    """Parse and check every input file before anything starts; all problems at once."""
    requirements = parse_requirements(options.requirements)
    build_requirements = None
    if options.build_requirements is not None:
        build_requirements = parse_requirements(options.build_requirements)
    if options.setup is not None:
        if not options.setup.exists():
            raise HookError.missing(str(options.setup))
        if not options.setup.is_file() or not _readable(options.setup):
            raise HookError.not_executable(str(options.setup))
    return requirements, build_requirements


def _readable(path: Path) -> bool:
    try:
        with path.open("rb"):
            return True
    except OSError:
        return False


def common_inputs(options: BuildOptions, image: ImageInfo,
                  requirements: RequirementSet) -> CommonInputs:
    plat = options.plat or image.plat or ""
    build_options = (*requirements.pip_options, f"no-binary={','.join(options.no_binary)}",
                     f"only-binary={','.join(options.only_binary)}",
                     # pip's keys stay as they were before frontends were an option;
                     # auto's wheels are pip's (the same sdist, backend and closure: only
                     # who makes the isolated environment differs)
                     *((f"frontend={options.frontend}",)
                       if options.frontend not in {"pip", "auto"} else ()),
                     # a hermetic wheel was built from locked inputs alone
                     *(("hermetic",) if options.hermetic else ()))
    return CommonInputs(image_id=image.id, hook_sha256=digest_of(options.setup),
                        build_requirements_sha256=digest_of(options.build_requirements),
                        plat=plat, build_options=build_options)


@dataclass(frozen=True, kw_only=True, slots=True)
class PlannedBuild:
    """What ``build`` runs and ``wheelhub plan`` shows."""

    plan: Plan
    manifest: Manifest  # the wheelhouse's manifest before this run
    image: ImageInfo
    known: Knowledge  # durations and closures (asked of remote caches once per run)


def planned_build(options: BuildOptions, engine: Engine, requirements: RequirementSet, *,
                  sources: Sequence[CacheSource] = (),
                  shard: Shard | None = None) -> PlannedBuild:
    """The image inspected, the plan made (and cut to *shard*)."""
    image = engine.inspect()
    common = common_inputs(options, image, requirements)
    old_manifest = Manifest.load(options.wheelhouse)
    plan = make_plan(requirements=requirements, available=image.pythons, selector=options.python,
                     image=options.image, common=common, recipes=options.recipes,
                     manifest=old_manifest, wheelhouse=options.wheelhouse, force=options.force)
    known = knowledge(plan, old_manifest, sources)
    if shard is not None:
        plan = only_shard(plan, shard, known)
    return PlannedBuild(plan=plan, manifest=old_manifest, image=image, known=known)


def knowledge(plan: Plan, manifest: Manifest, sources: Sequence[CacheSource]) -> Knowledge:
    """Durations and closures from the manifest, else from the first record a source has."""
    durations: dict[tuple[str, str], float] = {}
    closures: dict[tuple[str, str], list[str]] = {}
    for planned in plan.entries:
        pair = (planned.line.project, planned.python.tag)
        entry = manifest.find(*pair)
        if entry is not None and entry.ok and entry.wheels:
            durations[pair], closures[pair] = entry.duration, [w.project for w in entry.wheels]
            continue
        for source in sources:
            records = source.lookup(planned.prekey)
            if records:
                durations[pair], closures[pair] = records[0].duration, records[0].closure
                break
    return Knowledge(durations=durations, closures=closures)


def cache_sources(options: BuildOptions) -> list[CacheSource]:
    return open_sources(options.cache_from, token=options.cache_token,
                        token_env=options.cache_token_env)


def build(options: BuildOptions, *, engine: Engine | None = None,
          merge_label: str | None = None) -> BuildResult:
    """Build what the plan says. With *merge_label*, build nothing: gather every entry from
    the cache records of that label, and record what is missing as failed."""
    started = time.monotonic()
    shard = Shard.parse(options.shard) if options.shard else None
    sources = cache_sources(options)  # a URL that is no cache fails here, before anything
    requirements, build_requirements = load_inputs(options)
    _check_wheelhouse(options)
    engine = engine or make_engine(options)
    planned = planned_build(options, engine, requirements, sources=sources, shard=shard)
    plan, old_manifest, image = planned.plan, planned.manifest, planned.image
    common = plan.keys.common
    wheelhouse = Wheelhouse(options.wheelhouse)
    plan = restore(plan, sources, wheelhouse, label=merge_label)
    writer = ManifestWriter(_starting_manifest(old_manifest, plan, requirements.projects(),
                                               image, merge_label),
                            options.wheelhouse)
    todo = [] if merge_label is not None else plan.pythons_to_build()
    pages = _prefetch(options, requirements, build_requirements, todo,
                      common.plat or image.plat or "", writer) if options.hermetic else {}
    _log_plan(plan, shard, todo)
    failures: list[PrefixFailure] = []
    stop: KeyboardInterrupt | WheelhubError | None = None
    timings = Timings()
    if todo:
        try:
            failures = _run_prefixes(todo, plan, options, engine, image, requirements,
                                     build_requirements, common, wheelhouse, writer, timings,
                                     dependency_order(plan, planned.known), pages)
        except (KeyboardInterrupt, WheelhubError) as error:
            stop = error
        except OSError as error:  # a log or the manifest on a full disk
            if error.errno not in DISK_FULL:
                raise
            stop = WheelhouseError.disk_full(Path(error.filename or options.wheelhouse),
                                             partial_removed=False)
    why = _why_unfinished(stop, failures)
    final = _reconcile(_unfinished(writer, plan, why), options.wheelhouse)
    interrupted = isinstance(stop, KeyboardInterrupt)
    pruned = [] if stop is not None else wheelhouse.prune(old_manifest, final)
    result = BuildResult(wheelhouse=options.wheelhouse, entries=final.entries,
                         prefix_failures=tuple(failures), containers_started=len(todo),
                         duration=round(time.monotonic() - started, 2), image=image.reference,
                         image_id=image.id, pruned=tuple(pruned), interrupted=interrupted,
                         to_build=sum(1 for e in plan.entries if e.needs_build) if todo else 0,
                         phases=timings.to_json())
    try:
        final.save(options.wheelhouse)
        result = replace(result, reports=write_reports(result))
    except OSError as error:
        # On a full disk the manifest saved after the last finished entry stands.
        if stop is None or error.errno not in DISK_FULL:
            raise
    if stop is None and todo:
        _prune_snapshots(options)
    if isinstance(stop, KeyboardInterrupt):
        name, status = stop_status(stop)
        raise Interrupted.after(name, status, done=result.to_build - result.count("interrupted"),
                                total=result.to_build, wheelhouse=str(options.wheelhouse))
    if stop is not None:
        raise stop
    return result


def _log_plan(plan: Plan, shard: Shard | None, todo: Sequence[PythonPrefix]) -> None:
    cached = sum(1 for e in plan.entries if e.cached is not None)
    logger.info("%d requirement(s) × %d Python(s)%s: %d cached (%d remote), %d to build in %d "
                "container(s)", len({e.line.project for e in plan.entries}), len(plan.pythons),
                f", shard {shard.index}/{shard.count}" if shard else "", cached,
                sum(1 for e in plan.entries if e.origin),
                sum(1 for e in plan.entries if e.needs_build) if todo else 0, len(todo))


def _check_wheelhouse(options: BuildOptions) -> None:
    """Before anything starts: the mode is possible, the wheelhouse writable and clean."""
    if options.hermetic and options.engine == "host":
        raise HermeticError.needs_container(options.engine)
    check_writable(options.wheelhouse)
    if partial := remove_partial_files(options.wheelhouse):
        logger.info("removed %d partial file(s) an interrupted run left in the wheelhouse",
                    len(partial))


def _prefetch(options: BuildOptions, requirements: RequirementSet,
              build_requirements: RequirementSet | None, pythons: Sequence[PythonPrefix],
              plat: str, writer: ManifestWriter) -> Mapping[str, str]:
    """--hermetic: fetch on the host what the builds of *pythons* need, before any build
    container starts (a requirement with nothing to fetch fails here), and lock it in the
    manifest. Each Python's find-links page."""
    if not pythons:
        return {}
    started = time.monotonic()
    fetched = Prefetch(requirements=requirements, build_requirements=build_requirements,
                       pythons=pythons, plat=plat, cache_dir=options.cache_dir,
                       ca_bundle=options.ca_bundle, frontend=options.frontend,
                       # a recipe's `source: true` is the build's --no-binary too
                       no_binary=(*options.no_binary, *sorted(
                           name for name, recipe in options.recipes.items() if recipe.source)),
                       only_binary=options.only_binary,
                       locked=writer.manifest.lock, jobs=max(4, options.jobs)).run()
    files = len({f.filename for f in fetched.lock if f.filename})
    logger.info("hermetic: %d file(s) for %d Python(s), %d fetched now, the rest locked and on "
                "disk (%.1fs); builds run with no network", files, len(pythons),
                fetched.downloaded, time.monotonic() - started)
    writer.update(lambda manifest: replace(manifest, lock=fetched.lock))
    return fetched.pages


def _prune_snapshots(options: BuildOptions) -> None:
    """Snapshots beyond the budget (cache.keep, cache.max_size) go, least recently used
    first; a failure to prune never fails the build."""
    try:
        prune(options, keep=options.cache_keep, max_size=options.cache_max_size)
    except EngineError as error:
        logger.info("could not prune prepared snapshots: %s", error.message)


def carried_over(old: Manifest, plan: Plan, listed: Collection[str]) -> Manifest:
    """The entries of *old* this run keeps: every planned pair, everything of a Python this
    run did not select (a ``--python cp311`` run leaves cp312's wheels alone), and every
    requirement still *listed* (a ``--shard`` run leaves the other shards' wheels alone).
    A selected Python's entries for requirements no longer listed are dropped."""
    selected = {p.tag for p in plan.pythons}
    keep = {(e.line.project, e.python.tag) for e in plan.entries}
    keep |= {(e.project, e.python) for e in old.entries
             if e.python not in selected or e.project in listed}
    return old.only(keep)


def _starting_manifest(old: Manifest, plan: Plan, listed: Collection[str], image: ImageInfo,
                       merge_label: str | None) -> Manifest:
    """The old manifest as this run keeps it, with what needs no container already in it."""
    manifest = replace(carried_over(old, plan, listed), image=image.reference,
                       image_id=image.id)
    for planned in plan.entries:
        if planned.cached is not None:
            manifest = manifest.with_entry(replace(planned.cached, status="cached",
                                                   prekey=planned.prekey, origin=planned.origin))
        elif planned.skip_reason:
            manifest = manifest.with_entry(_skipped(planned))
        elif merge_label is not None:
            manifest = manifest.with_entry(_missing(planned, merge_label))
    return manifest


def _why_unfinished(stop: BaseException | None,
                    failures: list[PrefixFailure]) -> dict[str | None, str]:
    """Why entries were not built, per Python (None: every Python)."""
    why: dict[str | None, str] = {f.python: f"not built: {f.message}" for f in failures}
    if isinstance(stop, KeyboardInterrupt):
        why[None] = f"not built: the run was interrupted ({stop_status(stop)[0]}) first"
    elif isinstance(stop, WheelhubError):
        why[None] = f"not built: the run stopped first ({stop.message})"
    return why


def _unfinished(writer: ManifestWriter, plan: Plan, why: dict[str | None, str]) -> Manifest:
    """The manifest with every entry this run meant to build but did not finish recorded as
    interrupted (no wheels, not a failure): the next run builds exactly these."""
    manifest = writer.manifest
    for planned in plan.entries:
        pair = (planned.line.project, planned.python.tag)
        if not planned.needs_build or pair in writer.recorded:
            continue
        reason = why.get(planned.python.tag) or why.get(None)
        if reason is None:
            continue
        manifest = manifest.with_entry(Entry(
            requirement=str(planned.line.requirement), project=planned.line.project,
            python=planned.python.tag, key=planned.key, status="interrupted",
            inputs=planned.inputs, error=reason))
    return manifest


def prepared_key(options: BuildOptions, common: CommonInputs, python: PythonPrefix) -> str:
    """Identifies a prepared build environment: what the hook and installs started from."""
    import hashlib

    parts = (common.image_id, python.tag, common.hook_sha256, common.build_requirements_sha256,
             digest_of(options.ca_bundle), options.network or "",
             # pip's environment is pip's; auto's build requirements are installed by uv,
             # the build frontends' with the frontend
             *((options.frontend,) if options.frontend != "pip" else ()),
             *(("hermetic",) if options.hermetic else ()))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _missing(planned: PlannedEntry, label: str) -> Entry:
    return Entry(requirement=str(planned.line.requirement), project=planned.line.project,
                 python=planned.python.tag, key=planned.key, prekey=planned.prekey,
                 status="failed", inputs=planned.inputs,
                 error=f"missing: no shard published it to label '{label}' (failed, or its "
                 "shard job did not run)")


def _skipped(planned: PlannedEntry) -> Entry:
    return Entry(requirement=str(planned.line.requirement), project=planned.line.project,
                 python=planned.python.tag, key=planned.key, status="skipped",
                 inputs=planned.inputs, error=planned.skip_reason)


def _reconcile(manifest: Manifest, wheelhouse: Path) -> Manifest:
    """Refresh wheel records from the files: a shared wheel rewritten this run has one hash."""
    entries = []
    for entry in manifest.entries:
        wheels = []
        for wheel in entry.wheels:
            path = wheelhouse / wheel.filename
            wheels.append(describe(path, repaired=wheel.repaired) if path.exists() else wheel)
        entries.append(replace(entry, wheels=tuple(wheels)))
    return replace(manifest, entries=tuple(entries))


def _run_prefixes(todo: list[PythonPrefix], plan: Plan, options: BuildOptions, engine: Engine,
                  image: ImageInfo, requirements: RequirementSet,
                  build_requirements: RequirementSet | None, common: CommonInputs,
                  wheelhouse: Wheelhouse, writer: ManifestWriter,
                  timings: Timings, after: Mapping[str, set[str]],
                  pages: Mapping[str, str]) -> list[PrefixFailure]:
    failures: list[PrefixFailure] = []
    # Hermetic runs have every sdist prefetched already.
    fetch = options.frontend != "pip" and not options.hermetic
    sdists = SharedSdists(requirements=requirements, cache_dir=options.cache_dir,
                          ca_bundle=options.ca_bundle, jobs=max(2, options.jobs))
    tools = HostTools.for_sessions(options, requirements, image)  # while containers start
    shared = Shared(slots=CpuSlots(count=max(1, options.jobs)),
                    pure=PureOnce(wheelhouse=wheelhouse.path), sdists=sdists if fetch else None,
                    tools=tools)
    with sdists, tools, concurrent.futures.ThreadPoolExecutor(
            max_workers=options.jobs, thread_name_prefix="wheelhub") as pool:
        if fetch:  # while the containers start and run the hook
            sdists.start(e.line for e in plan.entries if e.needs_build)
        futures = {}
        for python in todo:
            context = contextvars.copy_context()
            futures[pool.submit(context.run, _build_prefix, python, plan, options, engine,
                                image, requirements, build_requirements, common, wheelhouse,
                                writer, timings, after, shared, pages)] = python
        try:
            pending = set(futures)
            while pending:
                done, pending = concurrent.futures.wait(pending, timeout=0.5)
                for future in done:
                    failure = future.result()
                    if failure is not None:
                        failures.append(failure)
        except BaseException as stop:  # a signal, a full disk: stop every prefix now
            what = "interrupted" if isinstance(stop, KeyboardInterrupt) else "stopping"
            logger.info("%s: removing containers, keeping finished wheels", what)
            engine.cancel()
            for future in futures:
                future.cancel()
            concurrent.futures.wait(futures, timeout=30)
            raise
    return failures


def _build_prefix(python: PythonPrefix, plan: Plan, options: BuildOptions, engine: Engine,
                  image: ImageInfo, requirements: RequirementSet,
                  build_requirements: RequirementSet | None, common: CommonInputs,
                  wheelhouse: Wheelhouse, writer: ManifestWriter, timings: Timings,
                  after: Mapping[str, set[str]], shared: Shared,
                  pages: Mapping[str, str]) -> PrefixFailure | None:
    try:
        return _build_in_session(python, plan, options, engine, image, requirements,
                                 build_requirements, common, wheelhouse, writer, timings,
                                 after, shared, pages.get(python.tag))
    except EngineError as error:  # the daemon went away: this prefix stops, others go on
        with prefix(python.tag):
            logger.info("FAILED: %s", error.message)
        return PrefixFailure(python=python.tag, message=error.message, log="",
                             tail=(f"hint: {error.hint}",) if error.hint else ())


def _build_in_session(python: PythonPrefix, plan: Plan, options: BuildOptions, engine: Engine,
                      image: ImageInfo, requirements: RequirementSet,
                      build_requirements: RequirementSet | None, common: CommonInputs,
                      wheelhouse: Wheelhouse, writer: ManifestWriter, timings: Timings,
                      after: Mapping[str, set[str]], shared: Shared,
                      page: str | None) -> PrefixFailure | None:
    todo = [e for e in plan.for_python(python) if e.needs_build]
    key = prepared_key(options, common, python)

    def steps_in(session: Session) -> PrefixBuild:
        return PrefixBuild(session=session, options=options, requirements=requirements,
                           build_requirements=build_requirements, common=common,
                           plat=options.plat or image.plat, wheelhouse=wheelhouse,
                           timings=timings, find_links=page, sdists=shared.sdists,
                           tools=shared.tools, image=image)

    if options.hermetic:
        # Prepared with the network (a hook may install system packages), snapshotted,
        # then built in a session started from that snapshot with no network at all.
        with prefix(python.tag), engine.session(python, name=f"{python.tag}-prepare",
                                                prepared_key=key) as session:
            failure = _prepare(steps_in(session), todo, writer, wheelhouse)
            if failure is not None:
                return failure
    starting = time.monotonic()
    with prefix(python.tag), engine.session(python, name=python.tag, prepared_key=key,
                                            offline=options.hermetic) as session:
        timings.add(python.tag, "", "image start", time.monotonic() - starting)
        logger.info("container ready%s; %d requirement(s) to build",
                    " (no network)" if options.hermetic else "", len(todo))
        steps = steps_in(session)
        failure = _prepare(steps, todo, writer, wheelhouse)
        if failure is not None:
            return failure
        settled = {e.line.project for e in plan.for_python(python) if e.cached is not None}
        _build_entries(steps, todo, writer, timings, after, shared, settled)
    return None


def _prepare(steps: PrefixBuild, todo: list[PlannedEntry], writer: ManifestWriter,
             wheelhouse: Wheelhouse) -> PrefixFailure | None:
    """CA, hook and build requirements (or a snapshot that has them); a failure fails every
    entry of the prefix, recorded with the setup log."""
    tag = steps.tag
    restored = steps.session.restored_env is not None
    # A session restored from a snapshot appends to the log of the one that prepared it.
    setup_log = LogCapture(path=wheelhouse.log_path(tag, "_setup"), append=restored)
    try:
        steps.prepare(setup_log)
    except SetupFailed as failure:
        logger.info("FAILED: %s (log: %s)", failure, failure.log)
        for planned in todo:
            writer.record(Entry(requirement=str(planned.line.requirement),
                                project=planned.line.project, python=tag,
                                key=planned.key, status="failed", inputs=planned.inputs,
                                log=str(failure.log.relative_to(wheelhouse.path)),
                                error=str(failure)))
        return PrefixFailure(python=tag, message=str(failure),
                             log=str(failure.log), tail=tuple(failure.tail))
    finally:
        setup_log.close()
    return None


def _build_entries(steps: PrefixBuild, todo: list[PlannedEntry], writer: ManifestWriter,
                   timings: Timings, after: Mapping[str, set[str]], shared: Shared,
                   cached: Collection[str] = ()) -> None:
    """Build *todo* in parallel, each in one of the run's CPU slots; an entry waits for the
    entries of this prefix it depends on (*after*: from earlier runs' closures), so it
    builds against their wheels. A project another Python builds right now waits for that
    build: if its wheels are pure they are this Python's too. Each entry writes its own
    log file. An entry whose own wheel stands is relinked on the host when it can be
    (*cached*: this Python's projects served from the cache, settled already)."""
    cpu_before = steps.cpu_at_start
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, steps.options.jobs),
                                               thread_name_prefix=f"wheelhub-{steps.tag}") as pool:
        queue = _EntryQueue(steps=steps, writer=writer, shared=shared, pool=pool, todo=todo,
                            after=after, cached=cached)
        try:
            while queue.pending or queue.running:
                if not queue.start_ready():
                    queue.wait()
        except BaseException:
            queue.cancel()
            raise
        finally:
            shared.slots.stop_asking(steps.tag)
    cpu_after = steps.cpu_seconds()
    if cpu_before is not None and cpu_after is not None:
        timings.add_cpu(steps.tag, cpu_after - cpu_before)


class _EntryQueue:
    """One prefix's entries: pending (in plan order), running, and how to start the next."""

    def __init__(self, *, steps: PrefixBuild, writer: ManifestWriter, shared: Shared,
                 pool: concurrent.futures.ThreadPoolExecutor, todo: list[PlannedEntry],
                 after: Mapping[str, set[str]], cached: Collection[str] = ()) -> None:
        self.steps, self.writer, self.shared, self.pool = steps, writer, shared, pool
        self.cached = set(cached)
        self.relink_tried: set[str] = set()
        self.pending = {p.line.project: p for p in todo}
        self.running: dict[concurrent.futures.Future[None], str] = {}
        self.waiting = {p.line.project: {d for d in after.get(p.line.project, set())
                                         if d != p.line.project} for p in todo}
        self.total, self.started, self.starved = len(todo), 0, False

    def start_ready(self) -> bool:
        """Start (or record as reused) what is ready; whether anything was."""
        tag, slots = self.steps.tag, self.shared.slots
        blocked = self.pending.keys() | set(self.running.values())
        ready = [name for name in self.pending if not self.waiting[name] & blocked]
        if not ready and not self.running:  # a cycle among known closures: go in order
            ready = [next(iter(self.pending))]
        launched = self.starved = False
        for name in ready:
            if (self.pending[name].own_wheel is not None and name not in self.relink_tried
                    and self._relinked(name)):
                self.started, launched = self.started + 1, True
                continue
            # Claim a project only with a CPU slot in hand, so each Python takes the next
            # project no other Python has started.
            if not slots.take(tag, timeout=0.05):
                self.starved = True  # stays asking: served before a Python holding more
                break
            claim = self.shared.pure.claim(name, tag)
            if claim == "busy":
                slots.give(tag)
                continue
            self.started, launched = self.started + 1, True
            planned = self.pending.pop(name)
            progress = f"({self.started}/{self.total})"
            if isinstance(claim, Entry):
                slots.give(tag)
                with prefix(f"{tag} {name}"):
                    logger.info("%s %s: the pure wheels built for %s serve %s too", progress,
                                planned.line.requirement, claim.python, tag)
                self.writer.record(self.steps.reuse(planned, claim, self.steps.options.recipes))
                continue
            context = contextvars.copy_context()
            self.running[self.pool.submit(context.run, _build_one, self.steps, planned,
                                          progress, self.writer, self.shared)] = name
        return launched

    def _relinked(self, name: str) -> bool:
        """Whether *name*, whose own wheel stands, was relinked on the host (no slot, no
        container): then it is recorded and no longer pending."""
        tag, planned = self.steps.tag, self.pending[name]
        self.relink_tried.add(name)
        progress = f"({self.started + 1}/{self.total})"
        entry = self.steps.relink(planned, self.steps.options.recipes, self._settled())
        with prefix(f"{tag} {name}"):
            if isinstance(entry, str):
                logger.info("%s %s: its own wheel stands; pip makes its closure, as %s",
                            progress, planned.line.requirement, entry)
                return False
            logger.info("%s %s: its own wheel stands, closure relinked to %s", progress,
                        planned.line.requirement,
                        " ".join(w.filename for w in entry.wheels[1:]) or "nothing")
        del self.pending[name]
        self.writer.record(entry)
        return True

    def _settled(self) -> dict[str, Entry]:
        """This Python's entries final for this run: served from the cache, or recorded."""
        tag, manifest = self.steps.tag, self.writer.manifest
        projects = self.cached | {p for p, python in self.writer.recorded if python == tag}
        return {p: e for p in projects if (e := manifest.find(p, tag)) is not None}

    def wait(self) -> None:
        """For a build of this prefix to end, or (none running) another Python's."""
        if not self.starved:
            self.shared.slots.stop_asking(self.steps.tag)
        if not self.running:
            self.shared.pure.wait(0.1)  # what is left is being built for another Python
            return
        done, _ = concurrent.futures.wait(self.running, timeout=0.1,
                                          return_when=concurrent.futures.FIRST_COMPLETED)
        for future in done:
            self.running.pop(future)
            future.result()

    def cancel(self) -> None:
        for future, name in self.running.items():
            if future.cancel():  # never started: its slot goes back
                self.shared.slots.give(self.steps.tag)
            self.shared.pure.finished(name, self.steps.tag, None)  # others build it themselves


def _build_one(steps: PrefixBuild, planned: PlannedEntry, progress: str,
               writer: ManifestWriter, shared: Shared) -> None:
    """One entry in its own log file, in the CPU slot taken for it (given back here); its
    end told to the others."""
    entry = None
    try:
        with prefix(f"{steps.tag} {planned.line.project}"):
            logger.info("%s building %s", progress, planned.line.requirement)
            capture = LogCapture(path=steps.wheelhouse.log_path(steps.tag, planned.line.project))
            try:
                entry = steps.build_entry(planned, steps.options.recipes, capture)
            finally:
                capture.close()
            if entry.status == "built":
                for wheel in entry.wheels:
                    vendored = f" (vendored {', '.join(wheel.vendored)})" if wheel.vendored else ""
                    logger.info("-> %s%s", wheel.filename, vendored)
            writer.record(entry)
    finally:
        shared.slots.give(steps.tag)
        shared.pure.finished(planned.line.project, steps.tag, entry)


def dependency_order(plan: Plan, known: Knowledge) -> dict[str, set[str]]:
    """Per project, the other planned projects its known closure contains (any Python)."""
    planned = {e.line.project for e in plan.entries}
    after: dict[str, set[str]] = {}
    for (project, _python), closure in known.closures.items():
        after.setdefault(project, set()).update(
            c for c in closure if c in planned and c != project)
    return after
