"""The summary table and report sections of ``wheelhub test``."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from wheelhub.verify.results import TestResult


def summary_line(result: TestResult) -> str:
    return (f"{result.count('passed')} passed, {result.count('failed')} failed, "
            f"{result.count('untested')} untested ({result.duration:.1f}s, "
            f"{result.containers_started} container(s))")


def render_table(result: TestResult) -> str:
    pythons = sorted({r.python for r in result.results})
    projects = sorted({r.project for r in result.results})
    index = {(r.project, r.python): r.status for r in result.results}
    header = ["package", *pythons]
    rows = [[p, *(index.get((p, py), "-") for py in pythons)] for p in projects]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, ["-" * w for w in widths], *rows]]
    return "\n".join([*lines, summary_line(result)])


def failure_details(result: TestResult, tail: int = 15) -> list[str]:
    lines: list[str] = []
    for failure in result.failures:
        first, *rest = failure.detail.split("\n")
        lines.append(f"{failure.project} [{failure.python}]: {first} "
                     f"(log: {result.wheelhouse / failure.log})")
        lines += ["    " + line for line in rest[-tail:]]
    return lines


_HTML_START = "<!-- wheelhub-test -->"
_HTML_END = "<!-- /wheelhub-test -->"


def update_reports(result: TestResult) -> tuple[Path, ...]:
    """Put the verdicts into the build's report.json and report.html, where they exist."""
    from wheelhub.build.report import REPORT_HTML, REPORT_JSON
    from wheelhub.util.fileio import atomic_write_bytes

    written: list[Path] = []
    verdicts = {(r.project, r.python): r for r in result.results}
    json_path = result.wheelhouse / REPORT_JSON
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(json_path.read_text(encoding="utf-8"))
        for entry in data.get("entries", []):
            verdict = verdicts.get((entry.get("project"), entry.get("python")))
            if verdict is not None:
                entry["test"] = {"status": verdict.status, "detail": verdict.detail,
                                 "image": verdict.image}
        data["test"] = {"ok": result.ok, "duration": result.duration,
                        "summary": {s: result.count(s) for s in ("passed", "failed", "untested")},
                        "results": [{"project": r.project, "python": r.python,
                                     "status": r.status, "summary": r.summary, "log": r.log}
                                    for r in result.results]}
        atomic_write_bytes(json_path, (json.dumps(data, indent=2) + "\n").encode())
        written.append(json_path)
    html_path = result.wheelhouse / REPORT_HTML
    with contextlib.suppress(OSError):
        text = html_path.read_text(encoding="utf-8")
        if _HTML_START in text:
            text = text[:text.index(_HTML_START)] + text[text.index(_HTML_END) + len(_HTML_END):]
        text = text.replace("</body>", _render_html(result) + "</body>", 1)
        atomic_write_bytes(html_path, text.encode())
        written.append(html_path)
    return tuple(written)


def _render_html(result: TestResult) -> str:
    import html

    esc = html.escape
    rows = "".join(f"<tr><td>{esc(r.project)}</td><td>{esc(r.python)}</td>"
                   f"<td class='{esc(r.status)}'>{esc(r.status)}</td>"
                   f"<td><pre>{esc(r.detail)}</pre></td></tr>" for r in result.results)
    return (f"{_HTML_START}<h2>Tests</h2><p id='test-summary'>{esc(summary_line(result))}</p>"
            f"<table id='tests'><tr><th>package</th><th>python</th><th>status</th>"
            f"<th>detail</th></tr>{rows}</table>{_HTML_END}\n")
