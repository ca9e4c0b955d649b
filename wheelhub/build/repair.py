"""auditwheel repair: which wheels need it, the command, and what a failure means."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping, Sequence

from packaging.utils import parse_wheel_filename

from wheelhub.build.sbom import PROBE_SCRIPT, Library, cyclonedx, original_name, parse_probe, vendored_in, with_sbom
from wheelhub.engines.base import LineSink, Session


def needs_repair(filename: str) -> bool:
    """Platform wheels not yet tagged for a policy (``linux_*``, ``py3-none-linux_*`` too)."""
    _name, _version, _build, tags = parse_wheel_filename(filename)
    return any(tag.platform.startswith("linux_") for tag in tags)


def repair_command(wheel: str, *, plat: str | None, out_dir: str,
                   exclude: Sequence[str]) -> list[str]:
    argv = ["auditwheel", "repair", "-w", out_dir]
    if plat:
        argv += ["--plat", plat]
    for library in exclude:
        argv += ["--exclude", library]
    return [*argv, wheel]


def vendored_libraries(wheel_path: str) -> tuple[str, ...]:
    """Shared libraries auditwheel grafted into the wheel (``<pkg>.libs/*.so*``)."""
    with zipfile.ZipFile(wheel_path) as archive:
        return vendored_in(archive.namelist())


def attach_sbom(session: Session, wheel: str, *, env: Mapping[str, str],
                sink: LineSink) -> tuple[Library, ...]:
    """Add the SBOM of the libraries auditwheel grafted into *wheel* (in the session).

    Asks the build image where each library came from (its package manager, if any)
    and rewrites the wheel in place; a wheel with nothing grafted is left as it is.
    """
    data = session.read_file(wheel)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        grafted = vendored_in(archive.namelist())
    if not grafted:
        return ()
    output: list[str] = []

    def collect(line: str) -> None:
        output.append(line)
        sink(line)

    names = sorted({original_name(g) for g in grafted})
    sink("+ (sbom) which package provides " + " ".join(names))
    session.run(["sh", "-c", PROBE_SCRIPT, "wheelhub-sbom", *names], env=env, sink=collect)
    libraries = parse_probe(output, grafted)
    filename = wheel.rsplit("/", 1)[-1]
    session.write_file(wheel, with_sbom(data, cyclonedx(filename, libraries)))
    return libraries


_SYMBOLS = re.compile(r"too-recent versioned symbols?:?\s*(?P<detail>.*)", re.IGNORECASE)
_MISSING = re.compile(r"required library \"?(?P<lib>[^\"\s]+)\"? could not be located")


def explain_failure(log_lines: Sequence[str], *, plat: str | None) -> str:
    """One sentence naming the culprit in an auditwheel failure and what to do."""
    text = "\n".join(log_lines)
    missing = _MISSING.search(text)
    if missing:
        lib = missing["lib"]
        return (f"auditwheel could not find {lib}: install the library in the setup hook "
                f"(build-setup.sh) so it can be vendored, or pass --exclude {lib} in the "
                "package's recipe if the runtime provides it")
    symbols = _SYMBOLS.search(text)
    if symbols or "too-recent" in text:
        detail = symbols["detail"].strip() if symbols else ""
        return (f"the wheel needs symbols newer than {plat or 'the target policy'} allows "
                f"({detail or 'see log'}): build in an older manylinux image, or set --plat "
                "to a newer policy")
    if "no ELF" in text or "not a platform wheel" in text:
        return "auditwheel found nothing to repair; the wheel is tagged as a platform wheel by mistake"
    tail = next((line for line in reversed(log_lines) if line.strip()), "see log")
    return f"auditwheel repair failed: {tail.strip()}"
