"""The requirement set's dependency graph, as the build recorded it (no fresh resolve).

Nodes are the projects of the manifest's entries and of the wheels each entry's build
produced (its dependency closure); edges come from the ``Requires-Dist`` of those very
wheels in the wheelhouse, with markers evaluated for the entry's Python, and only
between projects that were built for it. Output: text, JSON, Graphviz DOT, and an
SVG drawn here (no Graphviz needed when the report is written).
"""

from __future__ import annotations

import html
import json
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import Message
from email.parser import Parser
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, UndefinedComparison
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from wheelhub.errors import WheelhouseInputError, did_you_mean
from wheelhub.manifest import MANIFEST_NAME, Entry, Manifest, WheelRecord


@dataclass(frozen=True, kw_only=True, slots=True)
class Node:
    project: str
    versions: tuple[str, ...]
    requested: bool  # a line of the requirements file, not only pulled in as a dependency
    compiled: bool  # at least one platform wheel
    failed: bool  # an entry for it failed to build
    pythons: tuple[str, ...]

    @property
    def kind(self) -> str:
        return "failed" if self.failed else ("compiled" if self.compiled else "pure")


@dataclass(frozen=True, kw_only=True, slots=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]  # (dependent, dependency), sorted
    pythons: tuple[str, ...]
    missing_wheels: tuple[str, ...] = ()  # recorded but not on disk: their edges are unknown

    def node(self, project: str) -> Node | None:
        return next((n for n in self.nodes if n.project == project), None)

    def dependencies(self, project: str) -> list[str]:
        return [b for a, b in self.edges if a == project]

    def cycles(self) -> list[list[str]]:
        """Each cycle as a closed path (``a, b, a``), one per strongly connected component."""
        found = []
        for component in _components([n.project for n in self.nodes], self.edges):
            if len(component) > 1 or (component[0], component[0]) in self.edges:
                found.append(_cycle_path(component, self.edges))
        return found

    def build_order(self) -> list[list[str]]:
        """Dependencies first; the projects of one cycle share a step."""
        components = _components([n.project for n in self.nodes], self.edges)
        where = {p: i for i, c in enumerate(components) for p in c}
        needs = {i: {where[b] for a, b in self.edges if where[a] == i and where[b] != i}
                 for i in range(len(components))}
        order: list[list[str]] = []
        done: set[int] = set()
        while len(done) < len(components):
            ready = sorted((i for i in needs if i not in done and needs[i] <= done),
                           key=lambda i: components[i])
            for i in ready:
                order.append(components[i])
            done.update(ready)
        return order

    def why(self, project: str) -> list[list[str]]:
        """For each requested project that pulls *project* in, one shortest path to it."""
        target = canonicalize_name(project)
        paths = []
        for start in sorted(n.project for n in self.nodes if n.requested):
            path = self._shortest_path(start, target)
            if path is not None:
                paths.append(path)
        return paths

    def _shortest_path(self, start: str, target: str) -> list[str] | None:
        previous: dict[str, str] = {}
        frontier, seen = [start], {start}
        while frontier:
            following = []
            for project in frontier:
                if project == target:
                    path = [project]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return path[::-1]
                for dependency in self.dependencies(project):
                    if dependency not in seen:
                        seen.add(dependency)
                        previous[dependency] = project
                        following.append(dependency)
            frontier = following
        return None

    # -- output ----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "pythons": list(self.pythons),
            "nodes": [{"project": n.project, "versions": list(n.versions), "requested": n.requested,
                       "kind": n.kind, "pythons": list(n.pythons)} for n in self.nodes],
            "edges": [{"from": a, "to": b} for a, b in self.edges],
            "build_order": self.build_order(),
            "cycles": self.cycles(),
            "missing_wheels": list(self.missing_wheels),
        }

    def to_text(self) -> str:
        lines = [f"dependency graph ({', '.join(self.pythons) or 'no builds'}); "
                 "* = in the requirements file"]
        for node in self.nodes:
            mark = "*" if node.requested else " "
            deps = ", ".join(self.dependencies(node.project)) or "-"
            lines.append(f"{mark} {node.project} {'/'.join(node.versions) or '?'} [{node.kind}]"
                         f" -> {deps}")
        lines.append("build order: " + " ; ".join(" + ".join(step) for step in self.build_order()))
        for cycle in self.cycles():
            lines.append("cycle: " + " -> ".join(cycle))
        if self.missing_wheels:
            lines.append("not in the wheelhouse (edges unknown): " + ", ".join(self.missing_wheels))
        return "\n".join(lines)

    def to_dot(self) -> str:
        lines = ["digraph wheelhub {", '  rankdir="BT";', '  node [fontname="sans-serif"];']
        for node in self.nodes:
            label = f"{node.project}\\n{'/'.join(node.versions) or '?'}"
            style = _STYLES[node.kind]
            shape = "box" if node.requested else "ellipse"
            lines.append(f'  "{node.project}" [label="{label}", shape={shape}, style="filled'
                         f'{",bold" if node.requested else ""}", fillcolor="{style}"];')
        lines += [f'  "{a}" -> "{b}";' for a, b in self.edges]
        lines.append("}")
        return "\n".join(lines) + "\n"

    def to_svg(self) -> str:
        """A layered drawing: dependencies in the bottom row, arrows point at them."""
        return _svg(self)


_STYLES = {"pure": "#e7f0fb", "compiled": "#fff2cc", "failed": "#f8d0d0"}


def graph_from_manifest(manifest: Manifest, wheelhouse: Path, *,
                        python: str | None = None) -> Graph:
    """The graph of the entries for *python* (a tag like ``cp311``; all when None)."""
    entries = [e for e in manifest.entries if python in (None, "all", e.python)]
    pythons = tuple(sorted({e.python for e in entries}))
    wheels: dict[str, dict[str, WheelRecord]] = {}  # python -> project -> wheel
    for entry in entries:
        for wheel in entry.wheels:
            wheels.setdefault(entry.python, {})[wheel.project] = wheel
    edges: set[tuple[str, str]] = set()
    missing: set[str] = set()
    for tag, built in wheels.items():
        extras = _requested_extras(e for e in entries if e.python == tag)
        for project, wheel in built.items():
            requires = requires_dist(wheelhouse / wheel.filename)
            if requires is None:
                missing.add(wheel.filename)
                continue
            for dependency in applicable(requires, tag, extras.get(project, set())):
                if dependency in built and dependency != project:  # foo[x] needing foo[y]: no cycle
                    edges.add((project, dependency))
    return Graph(nodes=_nodes(entries, wheels), edges=tuple(sorted(edges)), pythons=pythons,
                 missing_wheels=tuple(sorted(missing)))


def _nodes(entries: list[Entry], wheels: Mapping[str, Mapping[str, WheelRecord]]) -> tuple[Node, ...]:
    projects = {e.project for e in entries} | {p for built in wheels.values() for p in built}
    nodes = []
    for project in sorted(projects):
        own = [built[project] for built in wheels.values() if project in built]
        mine = [e for e in entries if e.project == project]
        nodes.append(Node(
            project=project, versions=tuple(sorted({w.version for w in own})),
            requested=bool(mine), compiled=any(not w.pure for w in own),
            failed=any(e.status == "failed" for e in mine),
            pythons=tuple(sorted({e.python for e in mine}
                                 | {tag for tag, built in wheels.items() if project in built}))))
    return tuple(nodes)


def _requested_extras(entries: Iterable[Entry]) -> dict[str, set[str]]:
    extras: dict[str, set[str]] = {}
    for entry in entries:
        try:
            requirement = Requirement(entry.requirement)
        except InvalidRequirement:
            continue
        extras.setdefault(entry.project, set()).update(requirement.extras)
    return extras


def _metadata(path: Path) -> Message | None:
    try:
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist()
                        if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
            text = archive.read(name).decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile, StopIteration):
        return None
    return Parser().parsestr(text, headersonly=True)


def supports_python(path: Path, python: str) -> bool:
    """Whether the wheel's ``Requires-Python`` admits *python* (``cp312``); False when
    unreadable."""
    metadata = _metadata(path)
    version = _python_version(python).get("python_full_version")
    if metadata is None or version is None:
        return False
    try:
        return SpecifierSet(metadata.get("Requires-Python") or "").contains(version)
    except InvalidSpecifier:
        return False


def requires_dist(path: Path) -> list[Requirement] | None:
    """The wheel's ``Requires-Dist`` lines; None when the file cannot be read."""
    metadata = _metadata(path)
    if metadata is None:
        return None
    found = []
    for line in metadata.get_all("Requires-Dist") or []:
        try:
            found.append(Requirement(line))
        except InvalidRequirement:
            continue
    return found


def applicable(requires: list[Requirement], python: str, extras: set[str]) -> list[str]:
    """The names of the dependencies whose markers hold for *python* (``cp311``) with
    *extras* requested."""
    return [canonicalize_name(r.name) for r in applicable_requirements(requires, python, extras)]


def applicable_requirements(requires: list[Requirement], python: str,
                            extras: set[str]) -> list[Requirement]:
    """The dependencies whose markers hold for *python* with *extras* requested (a marker
    that cannot be evaluated keeps its dependency)."""
    version = _python_version(python)
    kept: list[Requirement] = []
    for requirement in requires:
        if requirement.marker is not None:
            environments = [{"extra": extra, **version} for extra in ("", *sorted(extras))]
            try:
                if not any(requirement.marker.evaluate(env) for env in environments):
                    continue
            except (InvalidMarker, UndefinedComparison):
                pass  # cannot tell: keep the edge when the dependency was built anyway
        kept.append(requirement)
    return kept


def _python_version(tag: str) -> dict[str, str]:
    digits = tag[2:] if tag[:2] in {"cp", "pp"} else ""
    if len(digits) < 2 or not digits.isdigit():
        return {}
    version = f"{digits[0]}.{digits[1:]}"
    return {"python_version": version, "python_full_version": version + ".0"}


def _components(nodes: list[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan), each sorted, in a stable order."""
    following: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        following.setdefault(a, []).append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(following.get(node, [])):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            found.append(sorted(component))

    for node in sorted(following):
        if node not in index:
            visit(node)
    return found


def _cycle_path(component: list[str], edges: Iterable[tuple[str, str]]) -> list[str]:
    members = set(component)
    inside = [(a, b) for a, b in edges if a in members and b in members]
    start = component[0]
    path, current = [start], start
    while True:
        nxt = min(b for a, b in inside if a == current)
        path.append(nxt)
        if nxt in path[:-1]:
            return path[path.index(nxt):]
        current = nxt


_BOX_W, _BOX_H, _GAP_X, _GAP_Y = 170, 40, 24, 60


def _svg(graph: Graph) -> str:
    depth: dict[str, int] = {}
    for step in graph.build_order():
        for project in step:
            below = [depth[d] for d in graph.dependencies(project) if d in depth]
            depth[project] = 1 + max(below) if below else 0
    rows: dict[int, list[str]] = {}
    for project, level in depth.items():
        rows.setdefault(level, []).append(project)
    height_levels = max(rows, default=0) + 1
    width_nodes = max((len(r) for r in rows.values()), default=1)
    width = width_nodes * (_BOX_W + _GAP_X) + _GAP_X
    height = height_levels * (_BOX_H + _GAP_Y) + _GAP_Y
    where: dict[str, tuple[int, int]] = {}
    for level, members in rows.items():
        for i, project in enumerate(sorted(members)):
            x = _GAP_X + i * (_BOX_W + _GAP_X)
            y = height - (level + 1) * (_BOX_H + _GAP_Y)
            where[project] = (x, y)
    esc = html.escape
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="graph" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
             'font-size="12"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
             'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
             '<path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>']
    for a, b in graph.edges:
        (ax, ay), (bx, by) = where[a], where[b]
        parts.append(f'<line class="edge" data-from="{esc(a)}" data-to="{esc(b)}" '
                     f'x1="{ax + _BOX_W // 2}" y1="{ay + _BOX_H}" x2="{bx + _BOX_W // 2}" '
                     f'y2="{by}" stroke="#555" marker-end="url(#arrow)"/>')
    for node in graph.nodes:
        x, y = where[node.project]
        stroke = ' stroke-width="2.5"' if node.requested else ""
        parts.append(f'<g class="node {node.kind}" data-project="{esc(node.project)}">'
                     f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="6" '
                     f'fill="{_STYLES[node.kind]}" stroke="#333"{stroke}/>'
                     f'<text x="{x + _BOX_W // 2}" y="{y + 17}" text-anchor="middle">'
                     f'{esc(node.project)}</text><text x="{x + _BOX_W // 2}" y="{y + 32}" '
                     f'text-anchor="middle" fill="#555">{esc("/".join(node.versions) or node.kind)}'
                     f'</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def dumps(graph: Graph, fmt: str) -> str:
    """The graph as ``text``, ``json`` or ``dot``."""
    if fmt == "json":
        return json.dumps(graph.to_json(), indent=2) + "\n"
    if fmt == "dot":
        return graph.to_dot()
    return graph.to_text() + "\n"


class GraphInputError(WheelhouseInputError):
    verb = "graph"

    @classmethod
    def no_manifest(cls, path: str) -> GraphInputError:
        return cls(f"'{path}' has no {MANIFEST_NAME}: the graph is read from what a build recorded",
                   hint="run `wheelhub build` first, or pass -w DIR for the wheelhouse it wrote")

    @classmethod
    def unknown_project(cls, name: str, known: Iterable[str]) -> GraphInputError:
        return cls(f"'{name}' is not in the built dependency graph",
                   hint=did_you_mean(canonicalize_name(name), known,
                                     "it was not built: see `wheelhub graph`"))


def load_graph(wheelhouse: Path, *, python: str | None = None) -> Graph:
    """The graph of the build recorded in *wheelhouse*; GraphInputError when there is none."""
    if not wheelhouse.is_dir():
        raise GraphInputError.missing_wheelhouse(str(wheelhouse))
    if not (wheelhouse / MANIFEST_NAME).is_file():
        raise GraphInputError.no_manifest(str(wheelhouse))
    manifest = Manifest.load(wheelhouse)
    if not manifest.entries:
        raise GraphInputError.empty(str(wheelhouse))
    return graph_from_manifest(manifest, wheelhouse, python=python)
