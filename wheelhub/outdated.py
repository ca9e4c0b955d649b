"""Which pins of a requirements file are behind the index, and rewriting them (``--bump``).

A top-level stage of its own: it reads requirements files (``build``) and the simple
API (``index``). The index is read
like pip reads it: PEP 691 JSON (``index.simple`` parses it), the proxy and CA settings
pip honours, yanked files ignored, pre-releases only when asked. Every version
comparison is ``packaging``'s. The rewrite touches only the version of ``==`` pins,
keeps everything else byte for byte, and is checked to parse before it is written.
"""

from __future__ import annotations

import datetime as dt
import difflib
import platform
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelhub.build.errors import RequirementsError
from wheelhub.build.requirements import RequirementLine, parse_requirements
from wheelhub.errors import UsageError
from wheelhub.index.client import DEFAULT_INDEX, IndexClient
from wheelhub.index.simple import IndexFile
from wheelhub.util.fileio import atomic_write_bytes, chown_to_user
from wheelhub.util.redact import redact

_CHANGELOG_LABELS = {"changelog", "changes", "releasenotes", "history", "whatsnew", "news"}


class OutdatedInputError(UsageError):
    @classmethod
    def missing(cls, path: Path) -> OutdatedInputError:
        return cls(f"requirements file '{path}' does not exist",
                   hint="pass -r FILE, or run in the directory that holds requirements.txt")

    @classmethod
    def unknown_only(cls, names: Iterable[str], pins: Iterable[str]) -> OutdatedInputError:
        return cls(f"--only names projects that are not pinned in the file: {', '.join(names)}",
                   hint=f"pinned: {', '.join(sorted(set(pins))) or 'none'}")

    @classmethod
    def bump_unparseable(cls, path: Path, problems: Sequence[str]) -> OutdatedInputError:
        return cls(f"refusing to write {path}: the bumped file would not parse: "
                   + "; ".join(problems), hint="nothing was written; please report this as a bug")


# -- the requirements file, line by line ------------------------------------------------------
@dataclass(frozen=True, kw_only=True, slots=True)
class PinLine:
    """A requirement line of the file; ``note`` says why ``--bump`` leaves it alone."""

    line: RequirementLine
    pinned: str = ""  # the version of a ``==`` pin
    note: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class FileLines:
    path: Path
    lines: tuple[str, ...]  # physical lines, with their endings
    pins: tuple[PinLine, ...]
    untouched: tuple[str, ...]  # "file:line: text: why" for lines that are not requirements we read


def _split_comment(code: str) -> tuple[str, str]:
    """(requirement part, comment with the whitespace before it), as pip splits them."""
    match = re.search(r"(^|\s)#", code)
    if match is None:
        return code, ""
    cut = match.start()
    while cut > 0 and code[cut - 1].isspace():
        cut -= 1
    return code[:cut], code[cut:]


def read_lines(path: Path) -> FileLines:
    """Every physical line of *path*, and the requirements among them."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OutdatedInputError.missing(path) from None
    lines = tuple(text.splitlines(keepends=True))
    pins: list[PinLine] = []
    untouched: list[str] = []
    continued = False
    for number, raw in enumerate(lines, start=1):
        body = raw.rstrip("\r\n")
        code, _comment = _split_comment(body)
        code = code.strip()
        where = f"{path}:{number}"
        was_continued, continued = continued, body.endswith("\\")
        if not code:
            continue
        if was_continued or continued:
            untouched.append(f"{where}: {code}: continued line (left as it is)")
            continue
        if code.startswith("-"):
            option = code.split()[0].split("=")[0]
            if option in {"-e", "--editable"}:
                untouched.append(f"{where}: {code}: editable requirement (left as it is)")
            elif option in {"-r", "--requirement", "-c", "--constraint"}:
                untouched.append(f"{where}: {code}: include not followed "
                                 "(check it with its own -r FILE)")
            continue
        try:
            requirement = Requirement(code)
        except InvalidRequirement as error:
            untouched.append(f"{where}: {code}: does not parse ({str(error).splitlines()[0]})")
            continue
        line = RequirementLine(requirement=requirement, source=path, lineno=number, text=code)
        if requirement.url:
            untouched.append(f"{where}: {code}: URL requirement (left as it is)")
            continue
        pins.append(_pin_line(line))
    return FileLines(path=path, lines=lines, pins=tuple(pins), untouched=tuple(untouched))


def _pin_line(line: RequirementLine) -> PinLine:
    specs = list(line.requirement.specifier)
    if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
        return PinLine(line=line, pinned=specs[0].version)
    return PinLine(line=line, note="not an == pin" if specs else "not pinned")


# -- the index ---------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, slots=True)
class Release:
    version: Version
    files: tuple[IndexFile, ...]

    @property
    def uploaded(self) -> float | None:
        times = [f.uploaded for f in self.files if f.uploaded is not None]
        return min(times) if times else None

    def supports(self, python: Version) -> bool:
        """Some file of it installs on *python* (Requires-Python)."""
        for file in self.files:
            try:
                if not file.requires_python or python in SpecifierSet(file.requires_python):
                    return True
            except InvalidSpecifier:
                return True  # pip ignores a malformed Requires-Python
        return False


def releases(client: IndexClient, project: str) -> list[Release] | None:
    """The project's releases with at least one file not yanked; None when not on the index."""
    files = client.project_files(project)
    if files is None:
        return None
    by_version: dict[Version, list[IndexFile]] = {}
    for file in files:
        if file.yanked is not None or not file.version:
            continue
        try:
            version = Version(file.version)
        except InvalidVersion:
            continue
        by_version.setdefault(version, []).append(file)
    return [Release(version=v, files=tuple(fs)) for v, fs in sorted(by_version.items())]


def changelog(client: IndexClient, release: Release) -> str:
    """A changelog link from the release's Project-URLs (PEP 658 metadata), or ''."""
    file = next((f for f in release.files if f.metadata_sha256), None)
    if file is None:
        return ""
    for entry in client.core_metadata(file).get("Project-URL", []):
        label, _, link = entry.partition(",")
        if re.sub(r"[^a-z]", "", label.lower()) in _CHANGELOG_LABELS:
            return link.strip()
    return ""


# -- findings --------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    project: str
    location: str
    current: str  # the pin, or the specifier of a range
    newest: str  # '' when the index has no release
    newest_for_python: str  # newest whose Requires-Python accepts the Python checked for
    bump_to: str  # what --bump would write ('' for nothing)
    released: str  # the newest's upload date (YYYY-MM-DD) when the index says
    changelog: str = ""
    note: str = ""  # not on the index, not an == pin, ...
    outdated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"project": self.project, "location": self.location, "current": self.current,
                "newest": self.newest, "newest_for_python": self.newest_for_python,
                "bump_to": self.bump_to, "released": self.released, "changelog": self.changelog,
                "note": self.note, "outdated": self.outdated}


@dataclass(frozen=True, kw_only=True, slots=True)
class OutdatedReport:
    path: Path
    index_url: str
    python: str
    findings: tuple[Finding, ...]
    untouched: tuple[str, ...] = ()

    @property
    def outdated(self) -> list[Finding]:
        return [f for f in self.findings if f.outdated]

    def to_json(self) -> dict[str, Any]:
        return {"requirements": str(self.path), "index_url": redact(self.index_url),
                "python": self.python, "outdated": len(self.outdated),
                "findings": [f.to_json() for f in self.findings],
                "untouched": list(self.untouched)}


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckOptions:
    requirements: Path
    index_url: str = DEFAULT_INDEX
    pre: bool = False
    major: bool = False  # bump across major versions
    python: str = field(default_factory=platform.python_version)
    env: Mapping[str, str] | None = None


def check(options: CheckOptions) -> OutdatedReport:
    """Compare every requirement of the file with the newest releases on the index."""
    lines = read_lines(options.requirements)
    client = IndexClient(options.index_url, options.env, agent="wheelhub-outdated")
    try:
        cache: dict[str, list[Release] | None] = {}
        findings = []
        for pin in lines.pins:
            project = pin.line.project
            if project not in cache:
                cache[project] = releases(client, project)
            findings.append(_finding(pin, cache[project], options, client))
    finally:
        client.close()
    return OutdatedReport(path=options.requirements, index_url=options.index_url,
                          python=options.python, findings=tuple(findings),
                          untouched=lines.untouched)


def _finding(pin: PinLine, releases: list[Release] | None, options: CheckOptions,
             client: IndexClient) -> Finding:
    requirement = pin.line.requirement
    base = Finding(project=pin.line.project, location=pin.line.location,
                   current=pin.pinned or str(requirement.specifier) or "(any)", newest="",
                   newest_for_python="", bump_to="", released="", note=pin.note)
    if releases is None:
        return replace(base, note="not on the index")
    candidates = [r for r in releases if options.pre or not r.version.is_prerelease]
    if not candidates:
        return replace(base, note="no release on the index" + ("" if options.pre else
                                                                " (pre-releases not asked for)"))
    newest = candidates[-1]
    python = Version(options.python)
    fitting = [r for r in candidates if r.supports(python)]
    released = newest.uploaded
    found = replace(base, newest=str(newest.version),
                    newest_for_python=str(fitting[-1].version) if fitting else "",
                    released=dt.datetime.fromtimestamp(released, tz=dt.timezone.utc)
                    .strftime("%Y-%m-%d") if released is not None else "")
    if pin.pinned:
        current = Version(pin.pinned)
        target = _bump_target(current, fitting, major=options.major)
        outdated = newest.version > current
        found = replace(found, outdated=outdated, bump_to=str(target.version) if target else "")
    else:
        # A range is behind when the newest release falls outside it.
        found = replace(found, outdated=not requirement.specifier.contains(
            newest.version, prereleases=options.pre or None))
    return replace(found, changelog=changelog(client, newest)) if found.outdated else found


def _bump_target(current: Version, fitting: Sequence[Release], *, major: bool) -> Release | None:
    newer = [r for r in fitting if r.version > current and (major or r.version.major == current.major)]
    return newer[-1] if newer else None


# -- bumping -------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, slots=True)
class BumpResult:
    path: Path
    diff: str
    changed: tuple[str, ...]  # "name old -> new"
    written: bool


def bump(report: OutdatedReport, *, only: Sequence[str] = (), write: bool = True) -> BumpResult:
    """Rewrite the ``==`` pins the report can bump; refuse if the result would not parse."""
    path = report.path
    wanted = {canonicalize_name(n) for n in only}
    pinned = {f.project for f in report.findings}
    if wanted - pinned:
        raise OutdatedInputError.unknown_only(sorted(wanted - pinned), pinned)
    lines = read_lines(path)
    new_lines = list(lines.lines)
    changed: list[str] = []
    by_line = {pin.line.lineno: pin for pin in lines.pins}
    for finding in report.findings:
        lineno = int(finding.location.rsplit(":", 1)[1])
        pin = by_line.get(lineno)
        if pin is None or not finding.bump_to or (wanted and finding.project not in wanted):
            continue
        new_lines[lineno - 1] = _bumped(lines.lines[lineno - 1], pin.pinned, finding.bump_to)
        changed.append(f"{finding.project} {pin.pinned} -> {finding.bump_to}")
    new_text = "".join(new_lines)
    _check_bumped(path, lines, new_text, report)
    diff = "".join(difflib.unified_diff(lines.lines, new_lines, fromfile=f"{path}",
                                        tofile=f"{path} (bumped)"))
    if write and changed:
        mode = path.stat().st_mode & 0o7777
        atomic_write_bytes(path, new_text.encode("utf-8"))
        path.chmod(mode)
        chown_to_user(path)
    return BumpResult(path=path, diff=diff, changed=tuple(changed), written=write and bool(changed))


def _bumped(raw: str, old: str, new: str) -> str:
    """*raw* with the version of its ``== old`` pin replaced; the rest byte for byte."""
    code, comment = _split_comment(raw.rstrip("\r\n"))
    ending = raw[len(raw.rstrip("\r\n")):]
    pattern = re.compile(r"(==\s*)" + re.escape(old) + r"(?![\w.+!-])")
    return pattern.sub(lambda m: m.group(1) + new, code, count=1) + comment + ending


def _check_bumped(path: Path, before: FileLines, text: str, report: OutdatedReport) -> None:
    """The bumped text must read as the same requirements with the new pins."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="wheelhub-bump-") as scratch:
        probe = Path(scratch) / path.name
        probe.write_text(text, encoding="utf-8")
        after = read_lines(probe)
        problems = [u.split(": ", 1)[1] for u in after.untouched
                    if u.split(": ", 1)[1] not in {b.split(": ", 1)[1] for b in before.untouched}]
        expected = {f.location.rsplit(":", 1)[1]: f.bump_to for f in report.findings if f.bump_to}
        old = {p.line.lineno: p for p in before.pins}
        for pin in after.pins:
            was = old.get(pin.line.lineno)
            if was is None or _shape(was.line.requirement) != _shape(pin.line.requirement):
                problems.append(f"line {pin.line.lineno} changed beyond its version")
            elif pin.pinned not in {was.pinned, expected.get(str(pin.line.lineno))}:
                problems.append(f"line {pin.line.lineno} pins {pin.pinned}")
        if len(after.pins) != len(before.pins):
            problems.append("a requirement line was lost")
        if not before.untouched and not problems:
            # No includes, editables or URLs: the build's own parser must accept it too.
            problems += _build_parser_problems(probe)
    if problems:
        raise OutdatedInputError.bump_unparseable(path, problems)


def _shape(requirement: Requirement) -> tuple[str, frozenset[str], str, str]:
    return (canonicalize_name(requirement.name), frozenset(requirement.extras),
            str(requirement.marker or ""), requirement.url or "")


def _build_parser_problems(path: Path) -> list[str]:
    try:
        parse_requirements(path)
    except RequirementsError as error:
        return list(error.problems)
    return []
