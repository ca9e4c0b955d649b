"""The summary table and report sections of ``wheelhub test``."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from wheelhub.util import table
from wheelhub.verify.results import TestResult


def summary_line(result: TestResult) -> str:
    return (f"{result.count('passed')} passed, {result.count('failed')} failed, "
            f"{result.count('untested')} untested ({result.duration:.1f}s, "
            f"{result.containers_started} container(s))")


def render_table(result: TestResult) -> str:
    header, rows = table.grid({(r.project, r.python): r.status for r in result.results})
    return "\n".join([*table.render(header, rows), summary_line(result)])


def failure_details(result: TestResult, tail: int = 15) -> list[str]:
    lines: list[str] = []
    for failure in result.failures:
        lines += table.failure_block(f"{failure.project} [{failure.python}]", failure.detail,
                                     result.wheelhouse / failure.log, tail)
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
