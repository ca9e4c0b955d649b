"""The end of a build: a summary table, ``report.json`` and a self-contained ``report.html``."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from wheelhub.build.graph import Graph, graph_from_manifest
from wheelhub.build.results import BuildResult
from wheelhub.build.sbom import SBOM_NAME, read_sboms
from wheelhub.manifest import Entry, Manifest
from wheelhub.util import table
from wheelhub.util.fileio import atomic_write_bytes

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"


def _cell(entry: Entry) -> str:
    if entry.status in {"built", "cached"}:
        own = [w for w in entry.wheels if w.project == entry.project]
        tag = own[0].filename.rsplit("-", 3)[-1].removesuffix(".whl") if own else ""
        how = "cached (remote)" if entry.origin else \
            "cached (local)" if entry.status == "cached" else entry.how
        return f"{how} {short_platform(tag)}".strip()
    return entry.status


def short_platform(tags: str) -> str:
    """A wheel's compressed platform tag set as a table shows it: the first tag without its
    architecture (``manylinux_2_17_x86_64.manylinux2014_x86_64`` → ``manylinux_2_17``)."""
    first = tags.split(".", maxsplit=1)[0]
    match = re.fullmatch(r"((?:many|musl)linux_\d+_\d+|manylinux\d+|linux)_\w+", first)
    return match.group(1) if match else first


def summary_rows(result: BuildResult) -> tuple[list[str], list[list[str]]]:
    return table.grid({(e.project, e.python): _cell(e) for e in result.entries})


def render_table(result: BuildResult) -> str:
    header, rows = summary_rows(result)
    return "\n".join([*table.render(header, rows), summary_line(result)])


def summary_line(result: BuildResult) -> str:
    wheels = len({w.filename for e in result.entries for w in e.wheels})
    unfinished = result.count("interrupted")
    stopped = ""
    if unfinished or result.interrupted:
        stopped = (f"interrupted after {result.to_build - unfinished} of {result.to_build}: "
                   f"{unfinished} not built; ")
    origins = sorted({e.origin for e in result.entries if e.status == "cached" and e.origin})
    remote = sum(1 for e in result.entries if e.status == "cached" and e.origin)
    cached = f"{result.count('cached')} cached" + (
        f" ({remote} remote, from {', '.join(origins)})" if remote else "")
    relinked = sum(1 for e in result.entries if e.status == "built" and e.relinked)
    built = f"{result.count('built')} built" + (f" ({relinked} relinked)" if relinked else "")
    return (f"{stopped}{built}, {cached}, "
            f"{result.count('failed')} failed, {result.count('skipped')} skipped; "
            f"{wheels} wheel(s) in {result.wheelhouse} ({result.duration:.1f}s, "
            f"{result.containers_started} container(s))")


def failure_details(result: BuildResult, tail: int = 12) -> list[str]:
    lines: list[str] = []
    for failure in result.prefix_failures:
        lines += table.failure_block(failure.python, "\n".join([failure.message, *failure.tail]),
                                     failure.log, tail)
    reported = {f.python for f in result.prefix_failures}
    for entry in result.failures:
        if entry.python not in reported:
            lines += table.failure_block(f"{entry.project} [{entry.python}]", entry.error,
                                         result.wheelhouse / entry.log, tail)
    return lines


def build_graph(result: BuildResult) -> Graph:
    """The dependency graph of this build's entries (wheels read from the wheelhouse)."""
    return graph_from_manifest(Manifest(entries=result.entries), result.wheelhouse)


def sbom_data(result: BuildResult) -> dict[str, list[dict[str, str]]]:
    """Per repaired wheel, the grafted libraries its PEP 770 SBOM names."""
    found: dict[str, list[dict[str, str]]] = {}
    for filename in sorted({w.filename for e in result.entries for w in e.wheels if w.vendored}):
        components = read_sboms(result.wheelhouse / filename).get(SBOM_NAME, [])
        found[filename] = [{"name": c.get("name", ""), "version": c.get("version", ""),
                            "purl": c.get("purl", ""),
                            **{p["name"].removeprefix("wheelhub:"): p["value"]
                               for p in c.get("properties", ()) if p.get("name") in _SBOM_KEYS}}
                           for c in components]
    return found


_SBOM_KEYS = {"wheelhub:file", "wheelhub:package", "wheelhub:package_version", "wheelhub:path"}


def report_data(result: BuildResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "image": result.image,
        "image_id": result.image_id,
        "duration": result.duration,
        "containers_started": result.containers_started,
        "summary": {s: result.count(s)
                    for s in ("built", "cached", "failed", "skipped", "interrupted")},
        "how": {f"{e.project} {e.python}": e.how for e in result.entries},
        "entries": [e.to_json() for e in sorted(result.entries,
                                                key=lambda e: (e.project, e.python))],
        "prefix_failures": [{"python": f.python, "message": f.message, "log": f.log,
                             "tail": list(f.tail)} for f in result.prefix_failures],
        "pruned": list(result.pruned),
        "phases": result.phases,
        "interrupted": result.interrupted,
        "graph": build_graph(result).to_json(),
        "sboms": sbom_data(result),
    }


def write_reports(result: BuildResult) -> dict[str, Path]:
    json_path = result.wheelhouse / REPORT_JSON
    html_path = result.wheelhouse / REPORT_HTML
    atomic_write_bytes(json_path, (json.dumps(report_data(result), indent=2) + "\n").encode())
    atomic_write_bytes(html_path, render_html(result).encode())
    return {"json": json_path, "html": html_path}


_STYLE = """body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
.built,.cached{background:#e7f6e7}.failed{background:#fbe3e3}
.skipped,.interrupted{background:#f3f3f3}
pre{background:#f7f7f7;padding:8px;overflow:auto;max-height:20em}code{font-size:12px}"""


def render_html(result: BuildResult) -> str:
    esc = html.escape
    header, rows = summary_rows(result)
    table = ["<table id='summary'><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        cells = "".join(f"<td class='{esc(c.split(' ')[0])}'>{esc(c)}</td>" for c in row[1:])
        table.append(f"<tr><th>{esc(row[0])}</th>{cells}</tr>")
    table.append("</table>")
    wheels = sorted({(w.filename, w.size, ", ".join(w.vendored) or "-")
                     for e in result.entries for w in e.wheels})
    wheel_rows = "".join(f"<tr><td><code>{esc(n)}</code></td><td>{s:,}</td><td>{esc(v)}</td></tr>"
                         for n, s, v in wheels)
    failures = "".join(f"<h3>{esc(e.project)} [{esc(e.python)}]</h3><pre>{esc(e.error)}</pre>"
                       for e in result.failures)
    sbom_rows = "".join(
        f"<tr><td><code>{esc(wheel)}</code></td><td><code>{esc(lib.get('file', ''))}</code></td>"
        f"<td>{esc(lib['name'])}</td><td>{esc(lib['version'])}</td>"
        f"<td>{esc(lib.get('package', '') or 'not from a package')}"
        f"{' ' + esc(lib.get('package_version', '')) if lib.get('package') else ''}</td></tr>"
        for wheel, libs in sbom_data(result).items() for lib in libs)
    sbom = ("<h2>Vendored libraries (SBOM)</h2><table id='sbom'><tr><th>wheel</th><th>file</th>"
            f"<th>library</th><th>version</th><th>package</th></tr>{sbom_rows}</table>"
            if sbom_rows else "")
    graph = ("<h2>Dependency graph</h2><p>Bold: in the requirements file; blue: pure, "
             f"yellow: compiled, red: failed.</p>{build_graph(result).to_svg()}")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>wheelhub build report</title>
<style>{_STYLE}</style></head><body><h1>wheelhub build report</h1>
<p id="summary-line">{esc(summary_line(result))}</p><p>Image: <code>{esc(result.image)}</code>
(<code>{esc(result.image_id[:19])}</code>)</p>{''.join(table)}
<h2>Wheels</h2><table id="wheels"><tr><th>file</th><th>bytes</th><th>vendored libraries</th></tr>
{wheel_rows}</table>{sbom}{graph}{'<h2>Failures</h2>' + failures if failures else ''}</body></html>
"""
