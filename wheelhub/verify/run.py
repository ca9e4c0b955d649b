"""``wheelhub test``: install the wheelhouse into clean runtime containers and import it.

For each Python the wheelhouse was built for, one container of the *runtime* image
(no compiler, no ``-dev`` libraries, ``--network none``) gets the wheelhouse mounted
read-only. Each built requirement is installed into its own venv from the wheelhouse
only (``pip install --no-index --find-links``), every top-level module of every wheel
in its closure is imported, and the recipe's ``test`` command runs. The verdicts go
into the manifest (:attr:`Entry.test`, which ``publish`` checks) and the build report.

Named ``verify`` so pytest does not take the module for a test file.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import json
import re
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath

from wheelhub.build.steps import TAIL_LINES, LogCapture
from wheelhub.engines.base import Paths, Session, shell_join
from wheelhub.engines.errors import PythonSelectionError
from wheelhub.engines.oci import Containers
from wheelhub.engines.pythons import PythonPrefix, prefixes_from_listing, select_pythons
from wheelhub.engines.spec import DOCKER, OCI_ENGINES, ContainerSpec, Mount
from wheelhub.manifest import Entry, Manifest, ManifestWriter, TestRecord, TestStatus
from wheelhub.options import TestOptions
from wheelhub.util.log import get_logger, prefix
from wheelhub.verify.errors import VerifyInputError
from wheelhub.verify.report import update_reports
from wheelhub.verify.results import PackageTest, TestResult

logger = get_logger("test")

# The workspace holds the venvs; installs run with --no-cache-dir, the cache is unused.
RUNTIME_PATHS = Paths(project="/wheelhub/project", workspace="/tmp/wheelhub-test",
                      wheelhouse="/wheelhub/wheelhouse", cache="/tmp/wheelhub-test")
LABEL = "org.wheelhub.test"
_MISSING_LIBRARY = re.compile(r"(?P<lib>[\w.+-]+\.so(?:\.[\w.]+)?): cannot open shared object file")
_IMPORT_MARK = "WHEELHUB-IMPORTS "
# Runs inside the container with the venv's interpreter: import each module, report JSON.
_IMPORT_SCRIPT = """\
import importlib, json, sys, traceback
results = []
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        results.append({"module": name, "ok": True})
    except BaseException:
        results.append({"module": name, "ok": False, "traceback": traceback.format_exc()})
print("WHEELHUB-IMPORTS " + json.dumps(results), flush=True)
"""


# -- what to test ---------------------------------------------------------------------------
def runtime_for(template: str, python: str) -> tuple[str, str | None]:
    """(image, interpreter) for a Python tag; interpreter None means look under /opt/python."""
    if "{version}" not in template:
        return template, None
    match = re.fullmatch(r"cp(\d)(\d+)", python)
    if match is None:
        raise VerifyInputError(f"runtime_image '{template}' has no image for {python}",
                               hint="set runtime_image to an image with the /opt/python/<tag> "
                               "layout (for example the manylinux image without compilers)")
    return template.replace("{version}", f"{match[1]}.{match[2]}"), "python"


def top_level_modules(wheel: Path) -> list[str]:
    """Importable top-level names of a wheel: ``top_level.txt``, else its RECORD/file list."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        listed = [n for n in names if n.endswith(".dist-info/top_level.txt") and n.count("/") == 1]
        if listed:
            text = archive.read(listed[0]).decode("utf-8", "replace")
            found = {line.strip().replace("/", ".") for line in text.splitlines()}
            return sorted(n for n in found if n and all(p.isidentifier() for p in n.split(".")))
    modules: set[str] = set()
    for name in names:
        parts = PurePosixPath(name).parts
        head = parts[0]
        if len(parts) > 1:
            if head.isidentifier() and name.endswith((".py", ".so", ".pyd")):
                modules.add(head)
        elif head.endswith(".py") or ".so" in head:
            stem = head.split(".", 1)[0]
            if stem.isidentifier():
                modules.add(stem)
    return sorted(modules)


def missing_library(text: str) -> str | None:
    match = _MISSING_LIBRARY.search(text)
    return match["lib"] if match else None


def _pythons_to_test(manifest: Manifest, selector: str) -> list[str]:
    built = sorted({e.python for e in manifest.entries if e.wheels and e.ok})
    available = [PythonPrefix(tag=tag, path=f"/opt/python/{tag}") for tag in built]
    try:
        chosen = select_pythons(selector or "all", available, image="the wheelhouse")
    except PythonSelectionError:
        raise VerifyInputError.no_python(selector, built) from None
    return [p.tag for p in chosen]


def load_manifest(wheelhouse: Path) -> Manifest:
    if not wheelhouse.is_dir():
        raise VerifyInputError.missing_wheelhouse(str(wheelhouse))
    manifest = Manifest.load(wheelhouse)
    if not any(e.wheels for e in manifest.entries) or not any(wheelhouse.glob("*.whl")):
        raise VerifyInputError.empty(str(wheelhouse))
    return manifest


# -- the run --------------------------------------------------------------------------------
def runtime_spec(options: TestOptions, image_id: str, python: str) -> ContainerSpec:
    """A runtime container: no network; the wheelhouse and the project read-only."""
    mounts = (Mount(source=options.wheelhouse, target=RUNTIME_PATHS.wheelhouse),
              Mount(source=options.project_dir, target=RUNTIME_PATHS.project))
    return ContainerSpec(image=image_id, name=f"test-{python}", labels={LABEL: python},
                         kind="test", workdir=RUNTIME_PATHS.workspace, mounts=mounts,
                         network="none", keep=options.keep_container, memory=options.memory)


def test_wheelhouse(options: TestOptions) -> TestResult:
    """Test every built entry of the wheelhouse in runtime containers; update the manifest."""
    started = time.monotonic()
    manifest = load_manifest(options.wheelhouse)
    pythons = _pythons_to_test(manifest, options.python)
    if not pythons:
        raise VerifyInputError.empty(str(options.wheelhouse))
    runner = _Runner(options, ManifestWriter(manifest, options.wheelhouse))
    verdicts: list[PackageTest] = []
    for entry in sorted(manifest.entries, key=lambda e: (e.project, e.python)):
        if entry.python in pythons and not entry.ok:
            why = "the build failed" if entry.status == "failed" else f"not built ({entry.status})"
            verdicts.append(PackageTest(project=entry.project, python=entry.python,
                                        status="untested", detail=why))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, options.jobs),
                                               thread_name_prefix="wheelhub-test") as pool:
        futures = [pool.submit(contextvars.copy_context().run, runner.test_python, python,
                               [e for e in manifest.entries
                                if e.python == python and e.ok and e.wheels])
                   for python in pythons]
        try:
            for future in futures:
                verdicts.extend(future.result())
        except KeyboardInterrupt:
            # Remove the containers now (in-flight runs return at once, unrecorded), so the
            # pool's shutdown does not wait for the remaining packages.
            runner.containers.cancel()
            for future in futures:
                future.cancel()
            raise
    ordered = tuple(sorted(verdicts, key=lambda v: (v.project, v.python)))
    result = TestResult(wheelhouse=options.wheelhouse, results=ordered,
                        duration=round(time.monotonic() - started, 2),
                        containers_started=len(pythons))
    return replace(result, reports=update_reports(result))


def _verdict_holds(entry: Entry, image_id: str) -> bool:
    return bool(entry.origin) and entry.test.status == "passed" and entry.test.image_id == image_id


class _Runner:
    def __init__(self, options: TestOptions, writer: ManifestWriter) -> None:
        self.options = options
        self.writer = writer
        self.containers = Containers(OCI_ENGINES.get(options.engine, DOCKER))
        self.cancel_token = self.containers.cancel_token

    def _record(self, verdict: PackageTest) -> None:
        test = TestRecord(status=verdict.status, detail=verdict.detail, image=verdict.image,
                          image_id=verdict.image_id)
        self.writer.update(lambda manifest: manifest.with_test(verdict.project, verdict.python,
                                                                test))

    def test_python(self, python: str, entries: Sequence[Entry]) -> list[PackageTest]:
        reference, interpreter = runtime_for(self.options.runtime_image, python)
        image_id = self.containers.image(reference).id
        spec = runtime_spec(self.options, image_id, python)
        # A verdict restored from a remote cache stands only for the same runtime image.
        verdicts = [PackageTest(project=e.project, python=python, status="passed",
                                detail=f"passed where it was built ({e.origin}), same runtime "
                                "image", image=reference, image_id=image_id)
                    for e in entries if _verdict_holds(e, image_id)]
        entries = [e for e in entries if not _verdict_holds(e, image_id)]
        if not entries:
            return verdicts
        with prefix(f"test {python}"), self.containers.start(
                spec, python=PythonPrefix(tag=python, path=""), paths=RUNTIME_PATHS) as session:
            logger.info("%s: testing %d package(s) in a container without network",
                        reference, len(entries))
            if interpreter is None:
                interpreter = self._layout_interpreter(session, python, reference)
            for entry in entries:
                if self.cancel_token.cancelled:
                    break
                with prefix(f"test {python} {entry.project}"):
                    verdict = replace(self._test_entry(session, entry, interpreter, reference),
                                      image_id=image_id)
                    if self.cancel_token.cancelled:
                        break  # interrupted mid-test: no verdict rather than a wrong one
                    logger.info("%s%s", verdict.status.upper(),
                                f": {verdict.summary}" if verdict.status == "failed" else "")
                self._record(verdict)
                verdicts.append(verdict)
        return verdicts

    def _layout_interpreter(self, session: Session, python: str, reference: str) -> str:
        lines: list[str] = []
        session.run(["sh", "-c", "ls -1 /opt/python 2>/dev/null || true"], env={},
                    sink=lines.append, workdir="/")
        for found in prefixes_from_listing("/opt/python", [n.strip() for n in lines]):
            if found.tag == python:
                return found.interpreter
        raise VerifyInputError(f"runtime image '{reference}' has no /opt/python prefix for {python}",
                               hint="use an image with that Python, or a template such as "
                               "'python:{version}-slim'")

    def _test_entry(self, session: Session, entry: Entry, interpreter: str,
                    reference: str) -> PackageTest:
        started = time.monotonic()
        wheelhouse = self.options.wheelhouse
        log_path = wheelhouse / "logs" / entry.python / f"{entry.project}.test.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        capture = LogCapture(path=log_path)
        try:
            status, detail = self._steps(session, entry, interpreter, capture)
        finally:
            capture.close()
        return PackageTest(project=entry.project, python=entry.python, status=status,
                           detail=detail, image=reference,
                           log=str(log_path.relative_to(wheelhouse)),
                           duration=round(time.monotonic() - started, 2))

    def _steps(self, session: Session, entry: Entry, interpreter: str,
               capture: LogCapture) -> tuple[TestStatus, str]:
        scratch = session.paths.workspace
        venv = f"{scratch}/{entry.project}"
        workdir = f"{scratch}/{entry.project}-cwd"
        env = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1",
               "PIP_ROOT_USER_ACTION": "ignore", "PIP_PROGRESS_BAR": "off",
               "PYTHONDONTWRITEBYTECODE": "1"}

        def run(argv: list[str], run_env: Mapping[str, str] | None = None) -> int:
            capture.note(shell_join(argv))
            code: int = session.run(argv, env=run_env or env, sink=capture, workdir=workdir)
            return code

        session.run(["mkdir", "-p", workdir], env=env, sink=capture, workdir="/")
        if run([interpreter, "-m", "venv", "--without-pip", venv]) != 0:
            return "failed", "creating a venv failed\n" + self._tail(capture)
        python = f"{venv}/bin/python"
        install = [interpreter, "-m", "pip", "--python", python, "install", "--no-index",
                   "--no-cache-dir", "--find-links", session.paths.wheelhouse, entry.requirement]
        if run(install) != 0:
            return "failed", ("pip install from the wheelhouse only failed "
                              "(a dependency missing from the wheelhouse?)\n" + self._tail(capture))
        failure = self._imports(session, entry, python, workdir, env, capture)
        if failure:
            return "failed", failure
        recipe = self.options.recipes.get(entry.project)
        command = recipe.test if recipe is not None and recipe.test else self.options.default_test
        if command:
            test_env = {**env, "VIRTUAL_ENV": venv, "WHEELHUB_PROJECT": session.paths.project,
                        "WHEELHUB_PYTHON_TAG": entry.python,
                        "PATH": f"{venv}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                        "/sbin:/bin"}
            code = run(["sh", "-c", command], test_env)
            if code != 0:
                return "failed", (f"test command exited with status {code}: {command}\n"
                                  + self._tail(capture))
        return "passed", ""

    def _imports(self, session: Session, entry: Entry, python: str, workdir: str,
                 env: Mapping[str, str], capture: LogCapture) -> str:
        modules: list[str] = []
        for wheel in entry.wheels:
            path = self.options.wheelhouse / wheel.filename
            if path.exists():
                modules += [m for m in top_level_modules(path) if m not in modules]
        if not modules:
            return ""
        lines: list[str] = []

        def sink(line: str) -> None:
            lines.append(line)
            if not line.startswith(_IMPORT_MARK):
                capture(line)

        argv = [python, "-I", "-c", _IMPORT_SCRIPT, *modules]
        capture.note(f"{python} -I -c <import each module> {' '.join(modules)}")
        code = session.run(argv, env=env, sink=sink, workdir=workdir)
        reported = [json.loads(line[len(_IMPORT_MARK):]) for line in lines
                    if line.startswith(_IMPORT_MARK)]
        if not reported:
            return f"the import check exited with status {code}\n" + self._tail(capture)
        problems: list[str] = []
        for item in reported[-1]:
            if item["ok"]:
                capture(f"import {item['module']}: ok")
                continue
            trace = item["traceback"].rstrip()
            for line in trace.splitlines():
                capture(line)
            last = trace.splitlines()[-1] if trace else "failed"
            library = missing_library(trace)
            head = (f"import {item['module']} failed: missing library {library} "
                    "(not vendored into the wheel, absent from the runtime image)"
                    if library else f"import {item['module']} failed: {last}")
            problems.append(head + "\n" + trace)
        if not problems:
            return ""
        if len(problems) == 1:
            return problems[0]
        first = problems[0].split("\n", 1)[0]
        return f"{first} (and {len(problems) - 1} more)\n" + "\n\n".join(problems)

    @staticmethod
    def _tail(capture: LogCapture) -> str:
        return "\n".join(list(capture.tail)[-TAIL_LINES:])
