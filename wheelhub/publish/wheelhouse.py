"""Which wheels of a wheelhouse may be published: the manifest decides, the disk must agree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from wheelhub.manifest import MANIFEST_NAME, Manifest
from wheelhub.publish.errors import PublishInputError
from wheelhub.publish.model import Candidate
from wheelhub.util.fileio import sha256_file

# What `wheelhub build` writes next to the wheels; everything else must be a wheel.
BUILD_OUTPUTS = frozenset({MANIFEST_NAME, "report.json", "report.html"})


@dataclass(frozen=True, kw_only=True, slots=True)
class Selection:
    candidates: tuple[Candidate, ...]
    held_back: tuple[str, ...]  # "name.whl (untested)" ...


def select(wheelhouse: Path, *, allow_untested: bool) -> Selection:
    """The publishable wheels, checked against the disk; raises before anything is uploaded."""
    if not wheelhouse.is_dir():
        raise PublishInputError.missing_wheelhouse(str(wheelhouse))
    files = sorted(p for p in wheelhouse.iterdir()
                   if p.is_file() and not p.name.startswith("."))
    strays = [p.name for p in files if p.suffix != ".whl" and p.name not in BUILD_OUTPUTS]
    if strays:
        raise PublishInputError.not_a_wheel(str(wheelhouse), strays)
    on_disk = {p.name for p in files if p.suffix == ".whl"}
    manifest = Manifest.load(wheelhouse)
    if not on_disk:
        raise PublishInputError.empty(str(wheelhouse))
    unknown = sorted(on_disk - manifest.wheel_filenames())
    if unknown:
        raise PublishInputError.not_in_manifest(str(wheelhouse), unknown)
    good = manifest.publishable_wheels(allow_untested=allow_untested)
    good_names = {w.filename for w in good}
    held = _held_back(manifest, good_names)
    if not good:
        untested = sum(1 for h in held if h.endswith("(untested)"))
        raise PublishInputError.nothing_good(str(wheelhouse), untested, len(held) - untested)
    candidates = []
    for record in good:
        path = wheelhouse / record.filename
        if not path.is_file() or sha256_file(path) != record.sha256:
            raise PublishInputError.changed(record.filename)
        candidates.append(Candidate(path=path, filename=record.filename, sha256=record.sha256,
                                    size=path.stat().st_size,
                                    project=canonicalize_name(record.project),
                                    version=record.version,
                                    verdict=_verdict(manifest, record.filename),
                                    vendored=record.vendored))
    return Selection(candidates=tuple(candidates), held_back=tuple(held))


def _verdict(manifest: Manifest, filename: str) -> str:
    """"passed" when every entry with *filename* passed its tests, else "untested"
    (a publishable wheel never failed)."""
    statuses = {e.test.status for e in manifest.entries
                if any(w.filename == filename for w in e.wheels)}
    return "passed" if statuses == {"passed"} else "untested"


def _held_back(manifest: Manifest, good: set[str]) -> list[str]:
    reasons: dict[str, str] = {}
    for entry in manifest.entries:
        for wheel in entry.wheels:
            if wheel.filename in good:
                continue
            if not entry.ok:
                why = f"build {entry.status}"
            elif entry.test.status == "failed":
                why = "test failed"
            else:
                why = entry.test.status
            reasons.setdefault(wheel.filename, why)
    return [f"{name} ({why})" for name, why in sorted(reasons.items())]
