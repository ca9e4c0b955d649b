"""Requirements files in pip's syntax, parsed with ``packaging``.

Supports pins, ranges, extras, markers, comments, line continuations, ``-r``/``-c``
includes (relative to the including file), and pip's build options, which are kept
as build settings and never written into what runtime installs use. Every problem
across all files is collected and raised once (:class:`RequirementsError`).
"""

from __future__ import annotations

import contextlib
import itertools
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelhub.build.errors import RequirementsError

# pip options that may appear in a requirements file and how we treat them.
_BUILD_OPTIONS = {"--no-binary", "--only-binary", "--prefer-binary", "--pre"}
_INDEX_OPTIONS = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--no-index",
                  "--trusted-host"}


def pinned_version(requirement: Requirement) -> Version | None:
    """The one version an ``==`` pin (no wildcard) names: one sdist serves every
    Python, and pip takes that version whatever else asks."""
    if requirement.url is not None:
        return None
    for spec in requirement.specifier:
        if spec.operator == "==" and "*" not in spec.version:
            with contextlib.suppress(InvalidVersion):
                return Version(spec.version)
    return None


@dataclass(frozen=True, kw_only=True, slots=True)
class RequirementLine:
    """One requirement, with where it came from for error messages and reports."""

    requirement: Requirement
    source: Path
    lineno: int
    text: str

    @property
    def project(self) -> str:
        return canonicalize_name(self.requirement.name)

    @property
    def location(self) -> str:
        return f"{self.source}:{self.lineno}"

    def __str__(self) -> str:
        return str(self.requirement)


@dataclass(frozen=True, kw_only=True, slots=True)
class RequirementSet:
    requirements: tuple[RequirementLine, ...]
    constraints: tuple[RequirementLine, ...] = ()
    # pip options found in the files, e.g. ("--no-binary", "pyyaml"); build settings only.
    pip_options: tuple[str, ...] = ()
    files: tuple[Path, ...] = field(default=())

    def projects(self) -> list[str]:
        return [line.project for line in self.requirements]

    def host_pip_options(self, base: Path) -> list[str]:
        """The pip options with each local ``--find-links`` as an absolute path (pip reads
        them relative to the requirements file in *base*)."""
        out: list[str] = []
        for index, word in enumerate(self.pip_options):
            previous = self.pip_options[index - 1] if index else ""
            if previous in {"-f", "--find-links"} and "://" not in word:
                word = str((base / word).resolve())
            out.append(word)
        return out

    def host_index_options(self) -> list[str]:
        """Only where pip looks (``--index-url``, ``--extra-index-url``, ``--find-links``, local
        paths absolute): what a host-side ``pip download`` of these requirements needs."""
        options = self.host_pip_options(self._base())
        wanted = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links"}
        out: list[str] = []
        for index, word in enumerate(options[:-1]):
            if word in wanted:
                out += [word, options[index + 1]]
        return out

    def host_places(self) -> IndexPlaces:
        """Where pip looks for these requirements, local paths as the host sees them."""
        return IndexPlaces.from_options(self.host_pip_options(self._base()))

    def _base(self) -> Path:
        """What local paths in the options are relative to: the first requirements file."""
        return self.files[0].parent if self.files else Path.cwd()

    def constraint_text(self) -> str:
        """Requirements and constraints as one constraints file (no extras: pip rejects them)."""
        lines = []
        for line in (*self.constraints, *self.requirements):
            req = Requirement(str(line.requirement))
            req.extras = set()
            if req.url is None:
                lines.append(str(req))
        return "\n".join(lines) + ("\n" if lines else "")


@dataclass(frozen=True, kw_only=True, slots=True)
class IndexPlaces:
    """Where pip looks, read from its options: what the host fetch and uv are told too."""

    find_links: tuple[str, ...]
    index_url: str | None  # the last --index-url; None: pip's default (PyPI)
    extra_index_urls: tuple[str, ...]
    no_index: bool

    @classmethod
    def from_options(cls, words: Sequence[str]) -> IndexPlaces:
        pairs = list(itertools.pairwise(words))
        indexes = [value for flag, value in pairs if flag in {"-i", "--index-url"}]
        return cls(find_links=tuple(v for f, v in pairs if f in {"-f", "--find-links"}),
                   index_url=indexes[-1] if indexes else None,
                   extra_index_urls=tuple(v for f, v in pairs if f == "--extra-index-url"),
                   no_index="--no-index" in words)


def allowed_formats(project: str, pip_args: Sequence[str]) -> frozenset[str]:
    """What pip may take for *project* ("binary", "source") given the ``--no-binary`` and
    ``--only-binary`` of *pip_args*, in order, with pip's rules (``:all:``, ``:none:``, a
    later option for a name overriding an earlier one)."""
    no_binary: set[str] = set()
    only_binary: set[str] = set()
    for index, flag in enumerate(pip_args[:-1]):
        if flag not in {"--no-binary", "--only-binary"}:
            continue
        target, other = (no_binary, only_binary) if flag == "--no-binary" else (only_binary,
                                                                                no_binary)
        names = pip_args[index + 1].split(",")
        while ":all:" in names:
            other.clear()
            target.clear()
            target.add(":all:")
            names = names[names.index(":all:") + 1:]
        for name in names:
            if name == ":none:":
                target.clear()
            elif name:
                other.discard(canonicalize_name(name))
                target.add(canonicalize_name(name))
    formats = {"binary", "source"}
    name = canonicalize_name(project)
    if name in only_binary:
        formats.discard("source")
    elif name in no_binary:
        formats.discard("binary")
    elif ":all:" in only_binary:
        formats.discard("source")
    elif ":all:" in no_binary:
        formats.discard("binary")
    return frozenset(formats)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations and drop comments, keeping the first line number."""
    out: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw
        if line.lstrip().startswith("#"):
            line = ""
        elif " #" in line or "\t#" in line:
            line = line[: min(i for i in (line.find(" #"), line.find("\t#")) if i >= 0)]
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        if pending.strip():
            out.append((start, pending.strip()))
        pending = ""
    if pending.strip():
        out.append((start, pending.strip()))
    return out


class _Parser:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.requirements: list[RequirementLine] = []
        self.constraints: list[RequirementLine] = []
        self.options: list[str] = []
        self.files: list[Path] = []

    def parse(self, path: Path, *, as_constraints: bool, stack: tuple[Path, ...],
              origin: str | None) -> None:
        resolved = path.resolve()
        if resolved in stack:
            chain = " -> ".join(str(p) for p in (*stack, resolved))
            self.problems.append(f"{origin}: include cycle: {chain}: remove one of the includes")
            return
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            where = f"{origin}: " if origin else ""
            self.problems.append(f"{where}{path}: file not found: check the path")
            return
        except (OSError, UnicodeDecodeError) as error:
            self.problems.append(f"{path}: cannot read: {error}")
            return
        self.files.append(path)
        for lineno, line in _logical_lines(text):
            self._parse_line(path, lineno, line, as_constraints, (*stack, resolved))

    def _parse_line(self, path: Path, lineno: int, line: str, as_constraints: bool,
                    stack: tuple[Path, ...]) -> None:
        where = f"{path}:{lineno}"
        if line.startswith("-"):
            self._parse_option(path, where, line, as_constraints, stack)
            return
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            why = str(error).splitlines()[0]
            self.problems.append(f"{where}: {line}: {why}")
            return
        entry = RequirementLine(requirement=requirement, source=path, lineno=lineno, text=line)
        (self.constraints if as_constraints else self.requirements).append(entry)

    def _parse_option(self, path: Path, where: str, line: str, as_constraints: bool,
                      stack: tuple[Path, ...]) -> None:
        try:
            words = shlex.split(line)
        except ValueError as error:
            self.problems.append(f"{where}: {line}: {error}")
            return
        name, _, inline_value = words[0].partition("=")
        value = inline_value or (words[1] if len(words) > 1 else "")
        if name in {"-r", "--requirement", "-c", "--constraint"}:
            if not value:
                self.problems.append(f"{where}: {line}: {name} needs a file name")
                return
            include = (path.parent / value) if not Path(value).is_absolute() else Path(value)
            nested_constraints = as_constraints or name in {"-c", "--constraint"}
            self.parse(include, as_constraints=nested_constraints, stack=stack, origin=where)
        elif name in _BUILD_OPTIONS:
            self.options.extend([name, value] if value and name != "--pre" else [name])
        elif name in _INDEX_OPTIONS:
            self.options.extend([name, value] if value else [name])
        elif name in {"-e", "--editable"}:
            self.problems.append(f"{where}: {line}: editable requirements cannot be built "
                                 "into wheels: use a path or URL requirement instead")
        else:
            self.problems.append(f"{where}: {line}: unsupported option '{name}'")


def parse_requirements(path: Path, *, constraints: tuple[Path, ...] = ()) -> RequirementSet:
    """Parse *path* (and its includes), plus extra constraint files.

    Raises :class:`RequirementsError` listing every problem found, in file order.
    """
    parser = _Parser()
    parser.parse(path, as_constraints=False, stack=(), origin=None)
    for extra in constraints:
        parser.parse(extra, as_constraints=True, stack=(), origin=None)
    if not parser.problems and not parser.requirements:
        parser.problems.append(f"{path}: no requirements: add at least one line")
    if parser.problems:
        raise RequirementsError(parser.problems)
    return RequirementSet(
        requirements=tuple(parser.requirements),
        constraints=tuple(parser.constraints),
        pip_options=tuple(parser.options),
        files=tuple(parser.files),
    )


def parse_build_requirements(path: Path) -> RequirementSet:
    """``requirements-build.txt``: installed before building and used as constraints."""
    return parse_requirements(path)
