"""auditwheel repair: which wheels need it, the command, and what a failure means."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from pathlib import PurePosixPath

from packaging.utils import parse_wheel_filename


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
        names = [PurePosixPath(n) for n in archive.namelist()]
    return tuple(sorted(p.name for p in names
                        if len(p.parts) == 2 and p.parts[0].endswith(".libs") and ".so" in p.name))


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
