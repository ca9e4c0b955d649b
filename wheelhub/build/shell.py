"""``wheelhub shell``: an interactive shell in exactly the build's environment.

The container is the build's (same image, mounts, CA bundle), prepared by the same
:meth:`PrefixBuild.prepare` (setup hook sourced, its exports captured, build
requirements installed). :func:`open_shell` yields a :class:`ShellContext` describing
it; the caller runs :attr:`ShellContext.exec_argv` (the engine's ``exec -it``) and the
container is removed when the context exits. With ``failed=True`` the first failed
entry of the last build is reopened: its Python, the image id it was built in, its
recipe, and the command that failed.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from wheelhub.build.errors import ShellError
from wheelhub.build.plan import PlannedEntry
from wheelhub.build.requirements import RequirementLine, RequirementSet
from wheelhub.build.run import common_inputs, load_inputs, prepared_key
from wheelhub.build.steps import LogCapture, PrefixBuild, SetupFailed
from wheelhub.build.tools import HostTools
from wheelhub.build.wheelhouse import Wheelhouse, check_writable
from wheelhub.engines import container_engine
from wheelhub.engines.base import DEFAULT_PATH, Session, shell_join
from wheelhub.engines.container import ContainerEngine
from wheelhub.engines.pythons import PythonPrefix, select_pythons
from wheelhub.engines.spec import exec_argv
from wheelhub.manifest import Entry, Manifest
from wheelhub.options import BuildOptions, Recipe
from wheelhub.util.log import get_logger

logger = get_logger("shell")

COMMAND_VARIABLE = "WHEELHUB_COMMAND"
SHELL_COMMAND = ("bash", "--norc", "-i")
HISTORY = ".bash_history"  # in the workspace
SOURCE_DIR = "src"  # in the workspace: the package's unpacked sdist
# What PATH is when neither the image nor the hook set one (Debian's and RHEL's default).


@dataclass(frozen=True, kw_only=True, slots=True)
class ShellRequest:
    package: str | None = None  # apply this requirement's recipe, show its pip wheel command
    failed: bool = False  # reopen the first failed entry of the last build


@dataclass(frozen=True, kw_only=True, slots=True)
class ShellContext:
    """A prepared build container, and the command that opens a terminal in it."""

    container: str
    exec_argv: tuple[str, ...]  # values of env travel in the environment, not in argv
    python: str
    image: str
    image_id: str
    env: Mapping[str, str]
    package: str = ""
    command: str = ""  # the pip wheel command (--package) or the one that failed (--failed)
    command_workdir: str = ""
    failure: str = ""  # first line of the recorded error (--failed)
    notes: tuple[str, ...] = field(default=())
    history: tuple[str, ...] = ()  # in the shell's history, most recent last
    source_dir: str = ""  # the package's sdist unpacked (--package, --failed)
    ready_seconds: float = 0.0  # from the start of the container to the prompt
    from_snapshot: bool = False  # started from a prepared snapshot (else prepared and saved)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Target:
    python: str | None  # None: choose from options.python
    line: RequirementLine | None
    entry: Entry | None = None
    failed_command: str = ""


def _find_line(requirements: RequirementSet, name: str) -> RequirementLine:
    project = canonicalize_name(name)
    for line in requirements.requirements:
        if line.project == project:
            return line
    raise ShellError.unknown_package(name, requirements.projects())


def failed_command(log: Path) -> str:
    """The last command a build log shows being run (lines ``+ <command>``)."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    commands = [line[2:] for line in lines if line.startswith("+ ")]
    return commands[-1] if commands else ""


def first_failure(wheelhouse: Path) -> tuple[Manifest, Entry]:
    manifest = Manifest.load(wheelhouse)
    for entry in manifest.entries:
        if entry.status == "failed":
            return manifest, entry
    raise ShellError.nothing_failed(str(wheelhouse))


def _failed_target(options: BuildOptions,
                   requirements: RequirementSet) -> tuple[BuildOptions, _Target, list[str]]:
    manifest, entry = first_failure(options.wheelhouse)
    notes: list[str] = []
    image_id = entry.inputs.get("image_id") or manifest.image_id
    if image_id:
        options = replace(options, image=image_id)
    try:
        line = _find_line(requirements, entry.project)
    except ShellError:
        try:
            line = RequirementLine(requirement=Requirement(entry.requirement),
                                   source=options.requirements, lineno=0, text=entry.requirement)
        except InvalidRequirement:
            line = None
        notes.append(f"{entry.project} is no longer in {options.requirements.name}")
    recipe = options.recipes.get(entry.project)
    recorded = entry.inputs.get("recipes", "")
    if recipe is not None and recipe.digest() not in recorded:
        notes.append(f"the recipe for {entry.project} changed since that build; "
                     "the shell applies the current one")
    command = failed_command(options.wheelhouse / entry.log) if entry.log else ""
    return options, _Target(python=entry.python, line=line, entry=entry,
                            failed_command=command), notes


def _choose_python(options: BuildOptions, available: tuple[PythonPrefix, ...],
                   wanted: str | None) -> PythonPrefix:
    if wanted is not None:
        for python in available:
            if python.tag == wanted:
                return python
        raise ShellError(f"image {options.image} has no Python {wanted} any more",
                         hint="the failed build's image was rebuilt; run `wheelhub build` again")
    chosen = select_pythons(options.python, available, image=options.image)
    if len(chosen) > 1 and options.python != "all":
        raise ShellError.one_python(options.python, [p.tag for p in chosen])
    return chosen[0]


@contextlib.contextmanager
def open_shell(options: BuildOptions, request: ShellRequest) -> Iterator[ShellContext]:
    """Start and prepare the build container; remove it when the context exits."""
    engine = container_engine(options)
    if engine is None:
        raise ShellError.host_engine()
    cli = engine.oci.cli_path()
    if cli is None:
        raise ShellError.no_engine_cli(engine.oci.cli)
    requirements, build_requirements = load_inputs(options)
    notes: list[str] = []
    if request.failed:
        options, target, notes = _failed_target(options, requirements)
        engine = ContainerEngine(options, engine.oci)  # in the failed build's image
    else:
        line = _find_line(requirements, request.package) if request.package else None
        target = _Target(python=None, line=line)
    check_writable(options.wheelhouse)  # mounted as in a build (find-links), so it must exist
    image = engine.inspect()
    python = _choose_python(options, image.pythons, target.python)
    if target.python is None and len(image.pythons) > 1 and options.python == "all":
        notes.append(f"opened {python.tag} (image has {', '.join(p.tag for p in image.pythons)}); "
                     "choose with --python")
    common = common_inputs(options, image, requirements)
    scratch = Path(tempfile.mkdtemp(prefix="wheelhub-shell-"))
    started = time.monotonic()
    try:
        # The build's key: the shell starts from the snapshot a build made, and a shell
        # that had to prepare leaves one for the next shell or build.
        # Prepared and compiling as the build's sessions are.
        with HostTools.for_sessions(options, requirements, image) as tools, \
                engine.session(python, name=f"shell-{python.tag}", kind="shell",
                               prepared_key=prepared_key(options, common, python)) as session:
            steps = PrefixBuild(session=session, options=options, requirements=requirements,
                                build_requirements=build_requirements, common=common,
                                plat=options.plat or image.plat,
                                wheelhouse=Wheelhouse(options.wheelhouse), tools=tools,
                                image=image)
            capture = LogCapture(path=scratch / "prepare.log")
            try:
                ready = _prepare(steps, session, target, options.recipes, capture, notes)
            finally:
                capture.close()
            history = list(ready.history)
            if target.failed_command:  # the failing command last: one arrow-up away
                history = [h for h in history if not h.endswith(target.failed_command)]
                history.append(f"cd {session.paths.project} && {target.failed_command}")
            command = target.failed_command or ready.command
            env = {**ready.env, "PS1": f"(wheelhub {python.tag}) \\w\\$ ",
                   "WHEELHUB_SHELL": "1", "HISTFILE": f"{session.paths.workspace}/{HISTORY}",
                   "PATH": prefix_path(python, ready.env.get("PATH") or image.env.get("PATH"))}
            if command:
                env[COMMAND_VARIABLE] = command
            # bash reads HISTFILE on start: arrow-up gives the build's commands, last first.
            session.write_file(env["HISTFILE"], "".join(f"{h}\n" for h in history).encode())
            argv = exec_argv(cli, session.container_id,
                             workdir=ready.workdir or session.paths.workspace,
                             env=env, command=SHELL_COMMAND)
            yield ShellContext(
                container=session.container_id, exec_argv=tuple(argv), python=python.tag,
                image=options.image, image_id=image.id, env=env,
                package=target.line.project if target.line else "", command=command,
                command_workdir=session.paths.project if command else "",
                history=tuple(history), source_dir=ready.workdir,
                failure=target.entry.error.split("\n", 1)[0] if target.entry else "",
                notes=tuple(notes), ready_seconds=round(time.monotonic() - started, 1),
                from_snapshot=session.restored_env is not None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def prefix_path(python: PythonPrefix, path: str | None) -> str:
    """PATH with the prefix's scripts first: ``python``, ``pip`` and what build requirements
    installed are that Python's, as in a venv."""
    return f"{python.path}/bin:{path or DEFAULT_PATH}"


@dataclass(frozen=True, kw_only=True, slots=True)
class _Ready:
    env: dict[str, str]
    command: str = ""  # the pip wheel command of --package
    history: tuple[str, ...] = ()  # the build's commands for the package, in order
    workdir: str = ""  # the unpacked sdist, when there is one


def _prepare(steps: PrefixBuild, session: Session, target: _Target,
             recipes: Mapping[str, Recipe], capture: LogCapture, notes: list[str]) -> _Ready:
    """The build's preparation, then the package's recipe and its unpacked sdist; failures
    become notes (the shell is for finding out why)."""
    try:
        steps.prepare(capture)
    except SetupFailed as failure:
        notes.append(f"{failure}; the shell has the environment up to that point")
        notes.extend("  " + line for line in failure.tail[-10:])
    env = dict(steps.env)
    if target.line is None:
        return _Ready(env=env)
    recipe = recipes.get(target.line.project)
    if recipe is not None:
        env.update(dict(recipe.env))
        for command in recipe.setup:
            capture.note(command)
            code = session.run(["bash", "-c", command], env=env, sink=capture,
                               workdir=session.paths.project)
            if code != 0:
                notes.append(f"recipe setup command exited with status {code}: {command}")
    planned = PlannedEntry(line=target.line, python=session.python, inputs={}, key="")
    command = shell_join(steps.pip_wheel_command(planned, recipe))
    history = (f"cd {session.paths.project} && {command}",
               steps.repair_command_line(planned, recipe))
    return _Ready(env=env, command=command, history=history,
                  workdir=_unpack_sdist(steps, session, planned, env, capture, notes))


def _unpack_sdist(steps: PrefixBuild, session: Session, planned: PlannedEntry,
                  env: Mapping[str, str], capture: LogCapture, notes: list[str]) -> str:
    """The requirement's sdist unpacked under the workspace (``src/<name>-<version>``), from
    where the build gets it; '' (and a note) when there is none."""
    dest = f"{session.paths.workspace}/{SOURCE_DIR}"
    argv = steps.source_command(planned, dest)
    capture.note(shell_join(argv))
    code = session.run(argv, env=env, sink=capture, workdir=session.paths.project)
    listing: list[str] = []
    if code == 0:
        unpack = (f"cd {dest} && for f in *.tar.gz *.tgz *.zip; do case $f in *.zip) "
                  "[ -f \"$f\" ] && unzip -q \"$f\";; *) [ -f \"$f\" ] && tar xzf \"$f\";; "
                  "esac; done; ls -d */ | head -1")
        code = session.run(["sh", "-c", unpack], env=env, sink=listing.append)
    if code != 0 or not listing:
        notes.append(f"no sdist of {planned.line.requirement} unpacked (pip download exited "
                     f"with status {code}); the build command below still runs")
        return ""
    return f"{dest}/{listing[-1].strip().rstrip('/')}"
