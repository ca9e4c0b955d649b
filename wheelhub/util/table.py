"""Plain-text summaries shared by ``build`` and ``test``: one row per package, one column
per Python, and failure blocks that end in the tail of the log."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path


def grid(cells: Mapping[tuple[str, str], str]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) for cells keyed by (project, python); '-' where there is none."""
    pythons = sorted({python for _project, python in cells})
    projects = sorted({project for project, _python in cells})
    rows = [[project, *(cells.get((project, python), "-") for python in pythons)]
            for project in projects]
    return ["package", *pythons], rows


def render(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Left-aligned columns under a header and a rule of dashes."""
    body = [list(row) for row in rows]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in [header, ["-" * width for width in widths], *body]]


def failure_block(what: str, detail: str, log: Path | str, tail: int) -> list[str]:
    """``what: first line (log: path)`` and the last *tail* lines of the detail, indented."""
    first, *rest = detail.split("\n")
    return [f"{what}: {first} (log: {log})", *("    " + line for line in rest[-tail:])]


