"""Human web pages: the owner page (labels) and the label page (projects, versions, wheels)."""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
from collections.abc import Mapping, Sequence

from wheelhub.index import urls
from wheelhub.index.simple import upload_time, version_key
from wheelhub.server.storage import FileRecord, Label, Owner, Provenance

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#222}
h1{font-size:1.6rem} h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
h3{font-size:1rem;margin:1rem 0 .3rem} table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{text-align:left;padding:.2rem .6rem;border-bottom:1px solid #eee}
.install{display:flex;gap:.5rem;align-items:center;background:#f4f6f8;padding:.6rem;
border-radius:6px} .install code{flex:1;font-size:.95rem;overflow-x:auto;white-space:nowrap}
.tag{font-family:monospace} td.size,td.uploaded{white-space:nowrap}
.muted{color:#777} .private{color:#a33;font-weight:bold}
"""
_SCRIPT = """
for (const b of document.querySelectorAll('button.copy')) {
  b.addEventListener('click', () => {
    const text = document.getElementById(b.dataset.target).textContent;
    navigator.clipboard.writeText(text).then(() => { b.textContent = 'Copied'; });
  });
}
"""



def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


# The pages' one inline style and script, allowed by hash; nothing else runs or loads.
CSP = (f"default-src 'none'; script-src {_csp_hash(_SCRIPT)}; style-src {_csp_hash(_STYLE)}; "
       "img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def _page(title: str, body: str) -> bytes:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body>{body}<script>{_SCRIPT}</script></body></html>\n").encode()


def size_text(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def home_page(owners: Sequence[Owner], prefix: str) -> bytes:
    items = "".join(f'<li><a href="{html.escape(urls.owner_url(prefix, o.name))}">'
                    f"{html.escape(o.name)}</a></li>" for o in owners)
    return _page("wheelhub", f"<h1>wheelhub</h1><ul id='owners'>{items}</ul>")


def owner_page(owner: Owner, labels: Sequence[Label], base: str) -> bytes:
    rows = "".join(
        f'<tr class="label" data-label="{html.escape(lab.name)}">'
        f'<td><a href="{html.escape(urls.label_url(base, owner.name, lab.name))}">'
        f"{html.escape(lab.name)}</a>{' <span class=private>private</span>' if lab.private else ''}"
        f"</td><td>{lab.projects}</td><td>{lab.files}</td>"
        f'<td class="size">{size_text(lab.size)}</td><td class="uploaded">'
        f"{_when(lab.last_upload)}</td></tr>" for lab in labels)
    body = (f"<h1>{html.escape(owner.name)}</h1>"
            f"<table id='labels'><tr><th>Label</th><th>Projects</th><th>Files</th>"
            "<th>Size</th><th>Last upload</th></tr>"
            f"{rows}</table>")
    return _page(f"{owner.name} - wheelhub", body)


def _when(timestamp: float | None) -> str:
    return "-" if timestamp is None else upload_time(timestamp)[:19].replace("T", " ") + " UTC"


def _provenance(record: Provenance | None) -> str:
    """Test verdict, branch, commit, CI run and vendored libraries, as publish recorded them."""
    if record is None:
        return '<td class="provenance muted">-</td>'
    parts = [f'<span class="verdict verdict-{html.escape(record.verdict)}">'
             f"{html.escape(record.verdict)}</span>"]
    if record.branch or record.commit:
        parts.append(html.escape(" @ ".join(x for x in (record.branch, record.commit[:12]) if x)))
    if record.run_url.startswith(("https://", "http://")):
        parts.append(f'<a href="{html.escape(record.run_url)}" rel="nofollow">CI run</a>')
    if record.vendored:
        parts.append("vendors " + html.escape(", ".join(record.vendored)))
    return f'<td class="provenance">{"; ".join(parts)}</td>'


def _install_box(ident: str, line: str) -> str:
    return (f'<div class="install"><code id="{ident}">{html.escape(line)}</code>'
            f'<button class="copy" data-target="{ident}">Copy</button></div>')


def label_page(owner: str, label: str, files: Sequence[FileRecord], *, root_url: str,
               prefix: str, private: bool, upstream: bool = False,
               provenance: Mapping[str, Provenance] | None = None) -> bytes:
    """Projects, their versions, and files grouped by Python tag and platform.

    Links go through *prefix* (the request's, token included); the pip line shown is
    built on *root_url* and names the token as a variable, never its value.
    """
    shown = urls.with_token(root_url, "$WHEELHUB_TOKEN") if private else root_url
    index = urls.simple_url(shown, owner, label)
    sections = []
    by_project = itertools.groupby(sorted(files, key=lambda r: r.project), key=lambda r: r.project)
    for project, project_files in by_project:
        records = list(project_files)
        display = records[-1].display_name
        summary = next((r.summary for r in records if r.summary), "")
        parts = [f'<section class="project" id="project-{html.escape(project)}">'
                 f"<h2>{html.escape(display)}</h2>"
                 f"<p class='muted'>{html.escape(summary or '')}</p>",
                 _install_box(f"pip-{html.escape(project)}",
                              urls.install_command(index, project, upstream=upstream))]
        versions = sorted({r.version for r in records}, key=version_key, reverse=True)
        for version in versions:
            rows = sorted((r for r in records if r.version == version),
                          key=lambda r: (r.python_tags, r.platform_tags, r.filename))
            body_rows = "".join(
                f'<tr class="file" data-python="{html.escape(".".join(r.python_tags))}" '
                f'data-platform="{html.escape(".".join(r.platform_tags))}">'
                f'<td class="tag">{html.escape(", ".join(r.python_tags))}</td>'
                f'<td class="tag">{html.escape(", ".join(r.platform_tags))}</td>'
                f'<td><a href="{html.escape(urls.file_url(prefix, owner, label, r.filename))}">'
                f"{html.escape(r.filename)}</a>"
                f"{' <span class=private>yanked</span>' if r.yanked is not None else ''}</td>"
                f'<td class="size">{size_text(r.size)}</td>'
                f'<td class="uploaded">{_when(r.uploaded)}</td>'
                f"{_provenance((provenance or {}).get(r.filename))}</tr>" for r in rows)
            parts.append(f'<h3 class="version">{html.escape(version)}</h3><table>'
                         "<tr><th>Python</th><th>Platform</th><th>File</th><th>Size</th>"
                         f"<th>Uploaded</th><th>Provenance</th></tr>{body_rows}</table>")
        parts.append("</section>")
        sections.append("".join(parts))
    title = f"{owner} / {label}"
    header = (f"<h1>{html.escape(title)}"
              f"{' <span class=private>private</span>' if private else ''}</h1>"
              f"<p>{len({r.project for r in files})} projects, {len(files)} files</p>"
              + _install_box("pip-line", urls.install_command(index, "<project>",
                                                              upstream=upstream))
              + ("" if upstream else
                 f"<p class='muted' id='extra-index-warning'>"
                 f"{html.escape(urls.EXTRA_INDEX_WARNING)}</p>"))
    empty = "" if files else "<p id='empty'>No files in this label yet.</p>"
    return _page(f"{title} - wheelhub", header + empty + "".join(sections))
