"""``wheelhub.build.run(options)``: requirements → repaired wheelhouse, one session per prefix.

Flow: parse inputs → inspect the image → plan (cache verdicts) → run the prefixes
that have work in parallel (up to ``jobs``) → prune stale wheels → manifest and
reports. A failing package or prefix never discards the others' wheels; the
manifest is saved after every entry, so Ctrl-C leaves it consistent.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import time
from dataclasses import replace
from pathlib import Path

from wheelhub.build.errors import HookError
from wheelhub.build.plan import CommonInputs, Plan, PlannedEntry, digest_of, make_plan
from wheelhub.build.report import write_reports
from wheelhub.build.requirements import RequirementSet, parse_requirements
from wheelhub.build.results import BuildResult, PrefixFailure
from wheelhub.build.steps import LogCapture, PrefixBuild, SetupFailed
from wheelhub.build.wheelhouse import Wheelhouse, check_writable, describe
from wheelhub.engines import make_engine
from wheelhub.engines.base import Engine, ImageInfo
from wheelhub.engines.pythons import PythonPrefix
from wheelhub.errors import Interrupted
from wheelhub.manifest import Entry, Manifest, ManifestWriter
from wheelhub.options import BuildOptions
from wheelhub.util.log import get_logger, prefix

logger = get_logger("build")


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
        _check_inside_project(options.setup, options)
    return requirements, build_requirements


def _readable(path: Path) -> bool:
    try:
        with path.open("rb"):
            return True
    except OSError:
        return False


def _check_inside_project(path: Path, options: BuildOptions) -> None:
    try:
        path.resolve().relative_to(options.project_dir)
    except ValueError:
        raise HookError(f"setup hook '{path}' is outside the project directory "
                        f"{options.project_dir}", hint="move it into the project; only the "
                        "project directory is mounted into build containers") from None


def common_inputs(options: BuildOptions, image: ImageInfo,
                  requirements: RequirementSet) -> CommonInputs:
    plat = options.plat or image.plat or ""
    build_options = (*requirements.pip_options, f"no-binary={','.join(options.no_binary)}",
                     f"only-binary={','.join(options.only_binary)}")
    return CommonInputs(image_id=image.id, hook_sha256=digest_of(options.setup),
                        build_requirements_sha256=digest_of(options.build_requirements),
                        plat=plat, build_options=build_options)


def build(options: BuildOptions, *, engine: Engine | None = None) -> BuildResult:
    started = time.monotonic()
    requirements, build_requirements = load_inputs(options)
    check_writable(options.wheelhouse)
    engine = engine or make_engine(options)
    image = engine.inspect()
    common = common_inputs(options, image, requirements)
    old_manifest = Manifest.load(options.wheelhouse)
    plan = make_plan(requirements=requirements, available=image.pythons, selector=options.python,
                     image=options.image, common=common, recipes=options.recipes,
                     manifest=old_manifest, wheelhouse=options.wheelhouse, force=options.force)
    wanted = {(e.line.project, e.python.tag) for e in plan.entries}
    manifest = replace(old_manifest.only(wanted), image=image.reference, image_id=image.id)
    for planned in plan.entries:
        if planned.cached is not None:
            manifest = manifest.with_entry(replace(planned.cached, status="cached"))
        elif planned.skip_reason:
            manifest = manifest.with_entry(_skipped(planned))
    writer = ManifestWriter(manifest, options.wheelhouse)
    wheelhouse = Wheelhouse(options.wheelhouse)
    todo = plan.pythons_to_build()
    cached = sum(1 for e in plan.entries if e.cached is not None)
    logger.info("%d requirement(s) × %d Python(s): %d cached, %d to build in %d container(s)",
                len(requirements.requirements), len(plan.pythons), cached,
                sum(1 for e in plan.entries if e.needs_build), len(todo))
    failures: list[PrefixFailure] = []
    interrupted = False
    if todo:
        try:
            failures = _run_prefixes(todo, plan, options, engine, image, requirements,
                                     build_requirements, common, wheelhouse, writer)
        except KeyboardInterrupt:
            interrupted = True
    final = _reconcile(writer.manifest, options.wheelhouse)
    final.save(options.wheelhouse)
    pruned = wheelhouse.prune(old_manifest, final) if not interrupted else []
    result = BuildResult(wheelhouse=options.wheelhouse, entries=final.entries,
                         prefix_failures=tuple(failures), containers_started=len(todo),
                         duration=round(time.monotonic() - started, 2), image=image.reference,
                         image_id=image.id, pruned=tuple(pruned), interrupted=interrupted)
    result = replace(result, reports=write_reports(result))
    if interrupted:
        raise Interrupted("interrupted: containers removed; finished wheels and the manifest "
                          f"were kept in {options.wheelhouse}")
    return result


def prepared_key(options: BuildOptions, common: CommonInputs, python: PythonPrefix) -> str:
    """Identifies a prepared build environment: what the hook and installs started from."""
    import hashlib

    parts = (common.image_id, python.tag, common.hook_sha256, common.build_requirements_sha256,
             digest_of(options.ca_bundle), options.network or "")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


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
                  wheelhouse: Wheelhouse, writer: ManifestWriter) -> list[PrefixFailure]:
    failures: list[PrefixFailure] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=options.jobs,
                                               thread_name_prefix="wheelhub") as pool:
        futures = {}
        for python in todo:
            context = contextvars.copy_context()
            futures[pool.submit(context.run, _build_prefix, python, plan, options, engine,
                                image, requirements, build_requirements, common, wheelhouse,
                                writer)] = python
        try:
            pending = set(futures)
            while pending:
                done, pending = concurrent.futures.wait(pending, timeout=0.5)
                for future in done:
                    failure = future.result()
                    if failure is not None:
                        failures.append(failure)
        except KeyboardInterrupt:
            logger.info("interrupted: stopping containers, keeping finished wheels")
            engine.cancel()
            for future in futures:
                future.cancel()
            concurrent.futures.wait(futures, timeout=30)
            raise
    return failures


def _build_prefix(python: PythonPrefix, plan: Plan, options: BuildOptions, engine: Engine,
                  image: ImageInfo, requirements: RequirementSet,
                  build_requirements: RequirementSet | None, common: CommonInputs,
                  wheelhouse: Wheelhouse, writer: ManifestWriter) -> PrefixFailure | None:
    todo = [e for e in plan.for_python(python) if e.needs_build]
    key = prepared_key(options, common, python)
    with prefix(python.tag), engine.session(python, name=python.tag, prepared_key=key) as session:
        logger.info("container ready; %d requirement(s) to build", len(todo))
        steps = PrefixBuild(session=session, options=options, requirements=requirements,
                            build_requirements=build_requirements, common=common,
                            plat=options.plat or image.plat, wheelhouse=wheelhouse)
        setup_log = LogCapture(path=wheelhouse.log_path(python.tag, "_setup"))
        try:
            steps.prepare(setup_log)
        except SetupFailed as failure:
            logger.info("FAILED: %s (log: %s)", failure, failure.log)
            for planned in todo:
                writer.record(Entry(requirement=str(planned.line.requirement),
                                    project=planned.line.project, python=python.tag,
                                    key=planned.key, status="failed", inputs=planned.inputs,
                                    log=str(failure.log.relative_to(wheelhouse.path)),
                                    error=str(failure)))
            return PrefixFailure(python=python.tag, message=str(failure),
                                 log=str(failure.log), tail=tuple(failure.tail))
        finally:
            setup_log.close()
        for index, planned in enumerate(todo, start=1):
            with prefix(f"{python.tag} {planned.line.project}"):
                logger.info("(%d/%d) building %s", index, len(todo), planned.line.requirement)
                capture = LogCapture(path=wheelhouse.log_path(python.tag, planned.line.project))
                try:
                    entry = steps.build_entry(planned, options.recipes, capture)
                finally:
                    capture.close()
                if entry.status == "built":
                    for wheel in entry.wheels:
                        vendored = f" (vendored {', '.join(wheel.vendored)})" if wheel.vendored else ""
                        logger.info("-> %s%s", wheel.filename, vendored)
                writer.record(entry)
    return None
