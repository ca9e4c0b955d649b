"""The steps run inside one session (one Python prefix): prepare, hook, build reqs,
then each requirement's wheel build and repair. Each step is a small method; the
orchestration across prefixes lives in :mod:`wheelhub.build.run`.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from wheelhub.build.graph import applicable, requires_dist
from wheelhub.build.plan import CommonInputs, PlannedEntry, entry_inputs, key_of, pins_by_project
from wheelhub.build.relink import relink
from wheelhub.build.repair import attach_sbom, explain_failure, needs_repair, repair_command
from wheelhub.build.requirements import IndexPlaces, RequirementSet, allowed_formats
from wheelhub.build.sdists import Release, SharedSdists
from wheelhub.build.timings import Timings, cgroup_cpu_seconds
from wheelhub.build.tools import CCACHE, UV, HostTools
from wheelhub.build.wheelhouse import Wheelhouse
from wheelhub.engines.base import DEFAULT_PATH, ImageInfo, Session, shell_join
from wheelhub.manifest import BuildStatus, Entry, WheelRecord
from wheelhub.options import BuildOptions, Recipe
from wheelhub.util.fileio import chown_to_user
from wheelhub.util.log import get_logger, prefix
from wheelhub.util.redact import redact

logger = get_logger("build")
TAIL_LINES = 25
HOOK_COPY = "setup-hook.sh"  # a hook outside the project, copied into the workspace


@dataclass(kw_only=True)
class LogCapture:
    """Writes a step's output to its log file, keeps the tail, echoes at debug level; URL
    credentials (an index URL with a token in requirements.txt) are masked first, in the
    commands shown and in what the tools print."""

    path: Path
    append: bool = False
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))

    def __post_init__(self) -> None:
        self._handle = self.path.open("a" if self.append else "w", encoding="utf-8")
        chown_to_user(self.path)

    def __call__(self, line: str) -> None:
        line = redact(line)
        self._handle.write(line + "\n")
        self._handle.flush()
        self.tail.append(line)
        logger.debug("%s", line)

    def note(self, text: str) -> None:
        self("+ " + text)

    def close(self) -> None:
        self._handle.close()


class SetupFailed(Exception):
    def __init__(self, message: str, log: Path, tail: list[str]) -> None:
        super().__init__(message)
        self.log = log
        self.tail = tail


@dataclass(kw_only=True)
class PrefixBuild:
    session: Session
    options: BuildOptions
    requirements: RequirementSet
    build_requirements: RequirementSet | None
    common: CommonInputs
    plat: str | None
    wheelhouse: Wheelhouse
    env: dict[str, str] = field(default_factory=dict)
    oom_kills: int = 0  # the container's OOM-kill count after the last step
    cpu_at_start: float | None = None  # its CPU seconds once prepared
    timings: Timings = field(default_factory=Timings)
    # --hermetic: the prefetched files' find-links page (relative to the cache dir); pip
    # then looks nowhere else
    find_links: str | None = None
    # the build frontends: sdists the host fetched once for every Python
    sdists: SharedSdists | None = None
    tools: HostTools | None = None  # uv (auto) and ccache, fetched once on the host
    image: ImageInfo | None = None
    hook_exports: dict[str, str] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        return self.session.python.tag

    @property
    def python(self) -> str:
        return self.session.python.interpreter

    def _work(self, *parts: str) -> str:
        return "/".join((self.session.paths.workspace, *parts))

    def _project_path(self, path: Path) -> str:
        """A host path inside the project as the session sees it."""
        relative = path.resolve().relative_to(self.options.project_dir)
        return "/".join((self.session.paths.project, *relative.parts))

    # -- preparation -------------------------------------------------------------------------
    def base_env(self) -> dict[str, str]:
        paths = self.session.paths
        env = {
            "PIP_CACHE_DIR": f"{paths.cache}/pip",
            "CCACHE_DIR": f"{paths.cache}/ccache",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_ROOT_USER_ACTION": "ignore",
            "PIP_NO_INPUT": "1",
            "PIP_PROGRESS_BAR": "off",
            # A dropped connection is retried with backoff before an entry fails.
            "PIP_RETRIES": "5",
            "PIP_TIMEOUT": "60",
            "WHEELHUB_PYTHON_TAG": self.tag,
            "WHEELHUB_PYTHON": self.python,
            "UV_CACHE_DIR": f"{paths.cache}/uv",
            # Build temporaries in the workspace: never in a snapshot committed meanwhile.
            "TMPDIR": paths.workspace,
            # Compilers use the run's CPU budget (a hook or recipe may override).
            "MAKEFLAGS": f"-j{max(1, self.options.jobs)}",
            "CMAKE_BUILD_PARALLEL_LEVEL": str(max(1, self.options.jobs)),
        }
        if self.find_links is not None:
            env.update({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": self._find_links_page(),
                        "UV_OFFLINE": "1", "UV_NO_INDEX": "1",
                        "UV_FIND_LINKS": self._find_links_page()})
        ca = paths.ca_bundle
        if ca is not None:
            env.update({"SSL_CERT_FILE": ca, "PIP_CERT": ca, "REQUESTS_CA_BUNDLE": ca,
                        "CURL_CA_BUNDLE": ca, "NODE_EXTRA_CA_CERTS": ca})
        return env

    def prepare(self, capture: LogCapture) -> None:
        """CA trust, the setup hook (sourced once), build requirements. Raises SetupFailed.

        A session started from a prepared snapshot already has all three; only the
        hook's exports are restored. A freshly prepared session is snapshotted.
        """
        self.env = self.base_env()
        self.session.write_file(self._work("pins.txt"),
                                self.requirements.constraint_text().encode())
        if self.build_requirements is not None:
            constraints = self._work("build-constraints.txt")
            self.session.write_file(constraints, self.build_requirements.constraint_text().encode())
        restored = self.session.restored_env
        if restored is not None:
            capture.note("prepared snapshot: hook and build requirements already applied; "
                         "restored exports: " + ", ".join(sorted(restored)))
            self.env.update(restored)
            self.hook_exports = dict(restored)
        else:
            exported = self._prepare_fresh(capture)
            self.hook_exports = exported
            with self.timings.phase(self.tag, "snapshot"):
                self.session.snapshot(exported)
        self.oom_kills, self.cpu_at_start = self._cgroup()
        self.env.update(self._compiler_cache_env())
        if self.build_requirements is not None:
            # Isolated builds inherit the environment, so they see the same pins (uv
            # reads its own variable: build[uv]'s build environments).
            self.env["PIP_CONSTRAINT"] = self._work("build-constraints.txt")
            self.env["UV_CONSTRAINT"] = self._work("build-constraints.txt")

    def _compiler_cache_env(self) -> dict[str, str]:
        """The image's compilers behind ccache (links first on PATH), caching in the mounted
        cache directory; nothing with --no-ccache or without ccache."""
        if not self.options.ccache or self.tools is None or self.image is None:
            return {}
        links = self.tools.aliases(CCACHE, self.image.compilers)
        if links is None:
            return {}
        search = self.env.get("PATH") or self.image.env.get("PATH") or DEFAULT_PATH
        return {
            "PATH": f"{self.session.paths.cache}/{links}:{search}",
            # Builds run in fresh temporary directories: paths under / are hashed relative
            # to the working directory, and the directory itself not at all, so the same
            # sources compiled again hit whichever directory pip or uv unpacked them in.
            "CCACHE_BASEDIR": "/",
            "CCACHE_NOHASHDIR": "1",
            # Unpacked sources are new files; their age says nothing about their content.
            "CCACHE_SLOPPINESS": "include_file_mtime,include_file_ctime",
        }

    def _prepare_fresh(self, capture: LogCapture) -> dict[str, str]:
        exported: dict[str, str] = {}
        paths = self.session.paths
        if paths.ca_bundle is not None and paths.system_ca_bundles:
            # Append to the system bundles so yum/apt/curl in the hook trust the proxy too.
            script = (f"for b in {' '.join(paths.system_ca_bundles)}; "
                      f"do [ -f \"$b\" ] && cat {paths.ca_bundle} >> \"$b\"; done; true")
            with self.timings.phase(self.tag, "ca"):
                self._run_or_fail(["sh", "-c", script], capture, "installing the CA bundle")
        if self.options.setup is not None:
            with self.timings.phase(self.tag, "hook"):
                exported = self._source_hook(capture)
        # One pip run for the frontend and the build requirements (one start, one resolve).
        installs: list[str] = []
        what: list[str] = []
        if (frontend := self.options.installs_frontend) is not None:
            installs.append(frontend)
            what.append(f"the frontend {frontend}")
        if self.build_requirements is not None:
            assert self.options.build_requirements is not None
            installs += ["-r", self._project_path(self.options.build_requirements)]
            what.append("build requirements")
        if installs:
            argv, env = [self.python, "-m", "pip", "install", *installs], self.env
            uv = self._uv_binary(exported)
            if uv is not None:  # uv installs what pip would, in a fraction of the time
                argv = [uv, "pip", "install", "--python", self.python, *installs]
                env = {**self.env, **_UV_ISOLATED}
            with self.timings.phase(self.tag, "build requirements"):
                try:
                    self._run_or_fail(argv, capture, "installing " + " and ".join(what), env)
                except SetupFailed:
                    if uv is None:
                        raise
                    # What uv could not install is pip's to try, as without uv.
                    capture.note("uv could not install them (above): pip installs them")
                    self._run_or_fail([self.python, "-m", "pip", "install", *installs],
                                      capture, "installing " + " and ".join(what))
        return exported

    def _uv_binary(self, settings: Mapping[str, str]) -> str | None:
        """The pinned uv as the session sees it (``auto`` and ``build[uv]``), where pip's
        part may go to uv: none when *settings* (the hook's or a recipe's exports) set pip
        up (PIP_*), which uv reads none of."""
        if (not self.options.runs_uv or self.tools is None
                or any(name.startswith("PIP_") for name in settings)):
            return None
        home = self.tools.path(UV)
        return f"{self.session.paths.cache}/{home}/uv" if home is not None else None

    def _hook_path(self) -> str:
        """The hook as the session sees it: in the mounted project, or else copied in (a
        hook kept elsewhere, e.g. shared by several projects; its hash keys the cache)."""
        assert self.options.setup is not None
        try:
            return self._project_path(self.options.setup)
        except ValueError:
            copy = self._work(HOOK_COPY)
            self.session.write_file(copy, self.options.setup.read_bytes())
            return copy

    def _source_hook(self, capture: LogCapture) -> dict[str, str]:
        assert self.options.setup is not None
        hook = self._hook_path()
        before, after = self._work("env.before"), self._work("env.after")
        script = (f"env -0 > {before}; set -e; cd {self.session.paths.project}; "
                  f". {hook}; set +e; env -0 > {after}")
        capture.note(f"source {hook}")
        code = self.session.run(["bash", "-c", script], env=self.env, sink=capture,
                                workdir=self.session.paths.project)
        if code != 0:
            raise SetupFailed(f"setup hook {self.options.setup.name} exited with status {code}",
                              capture.path, list(capture.tail))
        old = _parse_env(self.session.read_file(before))
        new = _parse_env(self.session.read_file(after))
        exported = {k: v for k, v in new.items() if old.get(k) != v and k not in {"_", "SHLVL", "PWD", "OLDPWD"}}
        if exported:
            capture.note("hook exported: " + ", ".join(sorted(exported)))
        self.env.update(exported)
        return exported

    def _run_or_fail(self, argv: list[str], capture: LogCapture, what: str,
                     env: Mapping[str, str] | None = None) -> None:
        capture.note(shell_join(argv))
        code = self.session.run(argv, env=self.env if env is None else env, sink=capture)
        if code != 0:
            raise SetupFailed(f"{what} failed with status {code}", capture.path,
                              list(capture.tail))

    # -- one requirement ---------------------------------------------------------------------
    def build_entry(self, planned: PlannedEntry, recipes: Mapping[str, Recipe],
                    capture: LogCapture) -> Entry:
        started = time.monotonic()
        project = planned.line.project
        recipe = recipes.get(project)
        env = dict(self.env)
        if recipe is not None:
            env.update(dict(recipe.env))
            for command in recipe.setup:
                capture.note(command)
                code = self.session.run(["bash", "-c", command], env=env, sink=capture,
                                        workdir=self.session.paths.project)
                if code != 0:
                    return self._failed(planned, capture, started, self._why(
                        "recipe setup command", code, capture) + f": {command}")
        out_dir = self._work("out", project)
        failure = self._build_wheels(planned, recipe, out_dir, env, capture)
        if failure:
            return self._failed(planned, capture, started, failure)
        records: list[WheelRecord] = []
        for wheel in self.session.list_files(out_dir, ".whl"):
            final = wheel
            if needs_repair(wheel.rsplit("/", 1)[-1]):
                with self.timings.phase(self.tag, "repair", project):
                    final_or_error = self._repair(wheel, recipe, capture, project)
                if final_or_error.startswith("error:"):
                    return self._failed(planned, capture, started, final_or_error[6:])
                final = final_or_error
            records.append(self.wheelhouse.store(self.session, final, repaired=final != wheel))
        if not records:
            # A container removed by a stopping run lists no wheels: raise Cancelled (the
            # entry is interrupted), not "skipped".
            self.session.run(["true"], env={}, sink=lambda _line: None)
        status: BuildStatus = "built" if records else "skipped"
        error = "" if records else "no wheel produced (markers exclude this Python?)"
        return self._made(planned, recipes, tuple(records), status=status, error=error,
                          log=self._rel_log(capture), started=started,
                          relinked=planned.own_wheel is not None)

    def relink(self, planned: PlannedEntry, recipes: Mapping[str, Recipe],
               settled: Mapping[str, Entry]) -> Entry | str:
        """*planned*'s entry made on the host from its unchanged own wheel and the entries
        this run settled for this Python (by project), with its log; else why pip must make
        its closure."""
        started = time.monotonic()
        own = planned.own_wheel
        assert own is not None
        lines = {line.project: line for line in self.requirements.requirements}
        found = relink(planned.line, self.tag, own, self.wheelhouse.path, settled, lines)
        if isinstance(found, str):
            return found
        capture = LogCapture(path=self.wheelhouse.log_path(self.tag, planned.line.project))
        try:
            capture.note(f"{own.filename}: its own inputs are unchanged, so the wheel stands; "
                         "its closure is relinked on the host to this run's "
                         + (", ".join(found.dependencies) or "entries"))
        finally:
            capture.close()
        return self._made(planned, recipes, found.wheels, log=self._rel_log(capture),
                          started=started, relinked=True)

    def reuse(self, planned: PlannedEntry, built: Entry, recipes: Mapping[str, Recipe]) -> Entry:
        """*built*, another Python's entry whose wheels are all pure and serve this one,
        recorded for this Python without building."""
        return self._made(planned, recipes, built.wheels, log=built.log,
                          relinked=built.relinked)

    def _made(self, planned: PlannedEntry, recipes: Mapping[str, Recipe],
              wheels: tuple[WheelRecord, ...], *, log: str, status: BuildStatus = "built",
              error: str = "", started: float | None = None, relinked: bool = False) -> Entry:
        """The entry of *planned* for this Python holding *wheels* (its closure), keyed by
        the pins of that closure."""
        inputs = entry_inputs(planned.line, planned.python, self.common, recipes,
                              pins_by_project(self.requirements), [w.project for w in wheels])
        return Entry(requirement=str(planned.line.requirement), project=planned.line.project,
                     python=self.tag, key=key_of(inputs), prekey=planned.prekey, status=status,
                     wheels=wheels, inputs=inputs, log=log, error=error,
                     duration=0.0 if started is None else round(time.monotonic() - started, 2),
                     relinked=relinked)

    def _build_wheels(self, planned: PlannedEntry, recipe: Recipe | None, out_dir: str,
                      env: Mapping[str, str], capture: LogCapture) -> str:
        """Wheels into *out_dir* with the chosen frontend; the failure, or ''."""
        project = planned.line.project
        frontend = self.options.frontend
        if planned.own_wheel is not None:
            capture.note(f"{planned.own_wheel.filename}: its own inputs are unchanged, so the "
                         "wheel stands; pip makes its closure")
            return self._step("pip wheel", "pip wheel",
                              self._closure_command(planned, planned.own_wheel, out_dir), env,
                              capture, project)
        if frontend == "pip":
            return self._step("pip wheel", "pip wheel",
                              self._pip_wheel_command(planned, recipe, out_dir), env, capture,
                              project)
        if frontend == "auto":
            return self._build_auto(planned, recipe, out_dir, env, capture)
        build = self._pypa_build(out_dir, uv=frontend == "build[uv]")
        build_env = self._uv_env(env) if frontend == "build[uv]" else env
        release = self._host_release(project)
        if release is not None and release.sdist is not None:
            capture.note(f"sdist fetched once on the host for every Python: {release.sdist}")
            return self._step("build", "python -m build",
                              [*build, f"{self.session.paths.cache}/{release.sdist}"],
                              build_env, capture, project)
        sources = self._work("sources", project)
        failure = self._step("download", "pip download", self.source_command(planned, sources),
                             env, capture, project)
        # The one sdist pip download wrote (a fresh directory per entry).
        script = f'{shell_join(build)} "$(ls -d {shlex.quote(sources)}/*)"'
        return failure or self._step("build", "python -m build", ["bash", "-c", script],
                                     build_env, capture, project)

    def _build_auto(self, planned: PlannedEntry, recipe: Recipe | None, out_dir: str,
                    env: Mapping[str, str], capture: LogCapture) -> str:
        """``auto``: what ``pip wheel`` does, but the sdist pip would build is built by
        ``uv build`` from the file the host fetched (uv makes the isolated environment in a
        fraction of pip's time); ``pip wheel`` then adds the dependency closure, if the
        wheel has dependencies, taking this wheel as it is."""
        project = planned.line.project
        pip_wheel = self._pip_wheel_command(planned, recipe, out_dir)
        # pip settings from the hook or the recipe (PIP_*) are pip's to honour: uv reads none
        uv = self._uv_binary({**self.hook_exports, **(dict(recipe.env) if recipe else {})})
        sdist = self._sdist_pip_would_build(planned, pip_wheel) if uv is not None else None
        if sdist is None or uv is None:
            return self._step("pip wheel", "pip wheel", pip_wheel, env, capture, project)
        capture.note(f"sdist fetched once on the host for every Python: {sdist}; pip would "
                     "build it: uv builds it")
        failure = self._step("build", "uv build",
                             [uv, "build", "--wheel", "--python", self.python, "--out-dir",
                              out_dir, f"{self.session.paths.cache}/{sdist}"],
                             {**self._uv_env(env), **_UV_ISOLATED}, capture, project)
        if failure and uv_stopped_before_the_backend(failure, capture.tail):
            # uv could not make the build environment (a requirement uv resolves otherwise
            # than pip, an option it lacks): pip's choice stands, so pip builds it.
            capture.note("uv build stopped before the build backend ran (above): pip builds it")
            return self._step("pip wheel", "pip wheel", pip_wheel, env, capture, project)
        if failure or not self._has_dependencies(planned, out_dir):
            return failure
        # The closure, as pip wheel makes it; this project's wheel is the one just built.
        closure = [*pip_wheel[:-1], "--find-links", out_dir, "--only-binary", project,
                   pip_wheel[-1]]
        return self._step("pip wheel", "pip wheel", closure, env, capture, project)

    def _sdist_pip_would_build(self, planned: PlannedEntry, pip_wheel: list[str]) -> str | None:
        """The host-fetched sdist of *planned*'s requirement if ``pip wheel`` would build
        it from source on this Python; None when pip would take a wheel, or when it cannot
        be told (markers on the requirement, an index the hook chose, wheels not listed)."""
        line = planned.line
        if line.requirement.marker is not None:
            return None
        formats = allowed_formats(line.project, pip_wheel)
        if "source" not in formats:
            return None
        release = self._host_release(line.project)
        if release is None or release.sdist is None:
            return None
        if "binary" in formats and release.has_wheel_for(self.tag, self.plat or "") is not False:
            return None
        return release.sdist

    def _has_dependencies(self, planned: PlannedEntry, out_dir: str) -> bool:
        """Whether the wheel built into *out_dir* declares a dependency for this Python (or
        cannot be read): then ``pip wheel`` makes the closure."""
        built = self.session.list_files(out_dir, ".whl")
        if len(built) != 1:
            return True
        with tempfile.TemporaryDirectory(prefix="wheelhub-metadata-") as tmp:
            local = Path(tmp) / built[0].rsplit("/", 1)[-1]
            local.write_bytes(self.session.read_file(built[0]))
            requires = requires_dist(local)
        if requires is None:
            return True
        return bool(applicable(requires, self.tag, set(planned.line.requirement.extras)))

    def _host_release(self, project: str) -> Release | None:
        """What the host found of *project* (timed as its download), unless the hook sent
        pip elsewhere than the host looked."""
        if self.sdists is None or self.hook_exports.keys() & _PIP_LOOKS_ELSEWHERE:
            return None
        with self.timings.phase(self.tag, "download", project):
            return self.sdists.wait_for(project)

    def _pypa_build(self, out_dir: str, *, uv: bool) -> list[str]:
        return [self.python, "-m", "build", "--wheel", "--outdir", out_dir,
                *(("--installer", "uv") if uv else ())]

    def _uv_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """*env* with the requirements' indexes and find-links (and the wheelhouse, like
        pip's ``--find-links``) for uv, which reads none of pip's settings: a build
        environment looks where pip's would."""
        if self.find_links is not None:  # --hermetic: the prefetched files, set already
            return dict(env)
        places = IndexPlaces.from_options(self._translated_pip_options())
        out = {**env, "UV_FIND_LINKS": ",".join((self.session.paths.wheelhouse,
                                                 *places.find_links))}
        if "UV_CONSTRAINT" in env:  # requirements-build.txt, for `uv build` too
            out["UV_BUILD_CONSTRAINT"] = env["UV_CONSTRAINT"]
        if places.index_url:
            out["UV_INDEX_URL"] = places.index_url
        if places.extra_index_urls:
            out["UV_EXTRA_INDEX_URL"] = " ".join(places.extra_index_urls)
        if places.no_index:
            out["UV_NO_INDEX"] = "1"
        return out

    def _step(self, phase: str, what: str, argv: list[str], env: Mapping[str, str],
              capture: LogCapture, project: str) -> str:
        """Run one build step; its failure, or ''."""
        capture.note(shell_join(argv))
        with self.timings.phase(self.tag, phase, project):
            code = self.session.run(argv, env=env, sink=capture,
                                    workdir=self.session.paths.project)
        if code == 0:
            return ""
        attempt = (network_attempt(capture.tail, _read_lines(capture.path))
                   if self.options.hermetic else None)
        if attempt is not None:
            return (f"{project}: the build tried to {attempt} with no network "
                    "(--hermetic): list it in requirements.txt (a dependency) or "
                    "requirements-build.txt (a build tool) so it is prefetched, or "
                    "build without --hermetic")
        return self._why(what, code, capture)

    def pip_wheel_command(self, planned: PlannedEntry, recipe: Recipe | None) -> list[str]:
        """The ``pip wheel`` command :meth:`build_entry` runs (shown by ``wheelhub shell``)."""
        return self._pip_wheel_command(planned, recipe, self._work("out", planned.line.project))

    def repair_command_line(self, planned: PlannedEntry, recipe: Recipe | None) -> str:
        """The ``auditwheel repair`` :meth:`build_entry` runs on what :meth:`pip_wheel_command`
        wrote, as a shell line (the wheel's name is known only once it is built)."""
        project = planned.line.project
        argv = repair_command("WHEEL", plat=self.plat, out_dir=self._work("repaired", project),
                              exclude=recipe.exclude if recipe else ())
        return f"{shell_join(argv[:-1])} {shlex.quote(self._work('out', project))}/*.whl"

    def source_command(self, planned: PlannedEntry, dest: str) -> list[str]:
        """``pip download`` of the requirement's sdist, from where the build would get it
        (its build backend, which pip installs to read the sdist's metadata, may be wheels)."""
        return [self.python, "-m", "pip", "download", "--no-deps",
                "--no-binary", planned.line.project,
                "--dest", dest, *self._translated_pip_options(),
                "--constraint", self._work("pins.txt"), str(planned.line.requirement)]

    def _pip_wheel_command(self, planned: PlannedEntry, recipe: Recipe | None,
                           out_dir: str) -> list[str]:
        argv = [self.python, "-m", "pip", "wheel", "--wheel-dir", out_dir,
                "--find-links", self.session.paths.wheelhouse,
                "--constraint", self._work("pins.txt")]
        argv += self._translated_pip_options()
        no_binary = list(self.options.no_binary)
        if recipe is not None and recipe.source:
            no_binary.append(recipe.project)
        if no_binary:
            argv += ["--no-binary", ",".join(no_binary)]
        if self.options.only_binary:
            argv += ["--only-binary", ",".join(self.options.only_binary)]
        return [*argv, str(planned.line.requirement)]

    def _closure_command(self, planned: PlannedEntry, own: WheelRecord,
                         out_dir: str) -> list[str]:
        """``pip wheel`` of the wheel *own* itself (a direct reference: pip takes exactly that
        file), so pip resolves and fetches only its dependencies."""
        requirement = Requirement(str(planned.line.requirement))
        requirement.url = f"file://{self.session.paths.wheelhouse}/{own.filename}"
        requirement.specifier = SpecifierSet()
        argv = self._pip_wheel_command(planned, None, out_dir)
        return [*argv[:-1], str(requirement)]

    def _find_links_page(self) -> str:
        assert self.find_links is not None
        return f"{self.session.paths.cache}/{self.find_links}"

    def _translated_pip_options(self) -> list[str]:
        """Options from requirements files; local --find-links paths mapped into the session.
        With --hermetic, the prefetched files and no index (a command-line --find-links
        replaces PIP_FIND_LINKS, so it is given here too)."""
        out: list[str] = []
        if self.find_links is not None:
            out += ["--no-index", "--find-links", self._find_links_page()]
        options = self.requirements.host_pip_options(self.options.requirements.parent)
        for index, word in enumerate(options):
            if index and options[index - 1] in {"-f", "--find-links"} and "://" not in word:
                with contextlib.suppress(ValueError):  # a path outside the project stays
                    word = self._project_path(Path(word))
            out.append(word)
        return out

    def _repair(self, wheel: str, recipe: Recipe | None, capture: LogCapture,
                project: str) -> str:
        repaired_dir = self._work("repaired", project)
        argv = repair_command(wheel, plat=self.plat, out_dir=repaired_dir,
                              exclude=recipe.exclude if recipe else ())
        capture.note(shell_join(argv))
        start = len(capture.tail)
        code = self.session.run(argv, env=self.env, sink=capture)
        if code != 0:
            lines = list(capture.tail)[max(0, start - TAIL_LINES):]
            return "error:" + explain_failure(lines, plat=self.plat)
        name = wheel.rsplit("/", 1)[-1].split("-", maxsplit=1)[0]
        produced = [w for w in self.session.list_files(repaired_dir, ".whl")
                    if w.rsplit("/", 1)[-1].split("-")[0] == name]
        if not produced:
            return "error:auditwheel reported success but wrote no wheel"
        attach_sbom(self.session, produced[-1], env=self.env, sink=capture)  # PEP 770 SBOM
        return produced[-1]

    def cpu_seconds(self) -> float | None:
        """CPU seconds the session's container has used so far (its cgroup), if readable."""
        return self._cgroup()[1]

    def _cgroup(self) -> tuple[int, float | None]:
        """The session's OOM-kill count and CPU seconds (cgroup v2 or v1), in one exec."""
        lines: list[str] = []
        script = ("cat /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control "
                  "2>/dev/null; echo ::cpu::; cat /sys/fs/cgroup/cpu.stat 2>/dev/null "
                  "|| cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null; true")
        self.session.run(["sh", "-c", script], env={}, sink=lines.append, workdir="/")
        cut = lines.index("::cpu::") if "::cpu::" in lines else len(lines)
        counts = [int(line.split()[1]) for line in lines[:cut]
                  if line.startswith("oom_kill ") and line.split()[1].isdigit()]
        return max(counts, default=0), cgroup_cpu_seconds("\n".join(lines[cut + 1:]))

    # -- why a step failed ------------------------------------------------------------------
    def _why(self, what: str, code: int, capture: LogCapture) -> str:
        """A failed step's cause: killed for memory, a full disk, or its exit status."""
        kills = self._oom_kills()
        killed, self.oom_kills = kills > self.oom_kills, kills
        if code == 137 or killed:
            limit = self.options.memory
            raise_it = (f"raise --memory (now {_megabytes(limit)})" if limit
                        else "set a container memory limit (--memory 4G)")
            return (f"{what} killed (out of memory?) with status {code}: the compiler or "
                    f"build needed more memory than the container had; use --jobs 1, "
                    f"MAKEFLAGS=-j1 in the recipe's env, or {raise_it}")
        if any("No space left on device" in line for line in capture.tail):
            return (f"{what} ran out of disk space (No space left on device, status {code}): "
                    f"free space in the cache directory {self.options.cache_dir} or in "
                    "Docker's storage (`docker system df`), then build again")
        return f"{what} exited with status {code}"

    def _oom_kills(self) -> int:
        """How many processes the kernel killed in this session for memory."""
        return self._cgroup()[0]

    def _failed(self, planned: PlannedEntry, capture: LogCapture, started: float,
                message: str) -> Entry:
        with prefix(f"{self.tag} {planned.line.project}"):
            logger.info("FAILED: %s (log: %s)", message, capture.path)
        return Entry(requirement=str(planned.line.requirement), project=planned.line.project,
                     python=self.tag, key=planned.key, status="failed", inputs=planned.inputs,
                     log=self._rel_log(capture), error=message + "\n" + "\n".join(capture.tail),
                     duration=round(time.monotonic() - started, 2))

    def _rel_log(self, capture: LogCapture) -> str:
        try:
            return str(capture.path.relative_to(self.wheelhouse.path))
        except ValueError:
            return str(capture.path)


# uv as wheelhub runs it: no uv.toml or pyproject settings of the user's machine, and the
# image's Pythons only (never one it downloads).
_UV_ISOLATED = {"UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never"}
# A hook that exports these sends pip elsewhere than the host looked for sdists.
_PIP_LOOKS_ELSEWHERE = {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX",
                        "PIP_CONFIG_FILE"}
_NOT_PREFETCHED = (re.compile(r"No matching distribution found for (\S+)"),
                   re.compile(r"Could not find a version that satisfies the requirement (\S+)"))
_NO_NETWORK = ("Temporary failure in name resolution", "Network is unreachable",
               "Name or service not known", "Could not resolve host", "No route to host",
               "Failed to establish a new connection", "nodename nor servname")
_URL = re.compile(r"https?://[^\s'\"<>)\]]+")


def uv_stopped_before_the_backend(failure: str, tail: Iterable[str]) -> bool:
    """Whether a failed ``uv build`` never got to run the build backend (so pip, which
    makes its environment otherwise, may yet build the sdist): not killed, not out of disk
    space, and no word from uv that the backend itself failed."""
    if " killed " in failure or "disk space" in failure:
        return False
    return not any(marker in line for line in tail for marker in _UV_BACKEND_FAILED)


_UV_BACKEND_FAILED = ("The build backend returned an error", "` failed (exit status",
                      "` failed (signal")


def network_attempt(tail: Iterable[str], log: Iterable[str] = ()) -> str | None:
    """What a failed step tried to do with the network, read from the *tail* of its output:
    fetch a distribution pip looked for, or fetch the last URL the whole *log* names before
    a connection error (else "reach the network"); None if it did not try."""
    tail = list(tail)
    for line in tail:
        for pattern in _NOT_PREFETCHED:
            if match := pattern.search(line):
                return f"fetch '{match[1]}' from the package index (it was not prefetched)"
    if not any(marker in line for line in tail for marker in _NO_NETWORK):
        return None
    urls = [url for line in (*log, *tail) for url in _URL.findall(line)]
    return f"fetch {urls[-1]}" if urls else "reach the network"


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _megabytes(size: int) -> str:
    return f"{size / 1024**2:.0f}M"


def _parse_env(data: bytes) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in data.split(b"\0"):
        if b"=" in item:
            key, value = item.split(b"=", 1)
            env[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return env


Progress = Callable[[str], None]
