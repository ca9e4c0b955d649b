"""`wheelhub graph` on a wheelhouse shaped like the fixture set's build: whfix-dependent
depends on whfix-pure, whfix-clib is compiled, whfix-broken failed. The graph comes from
the manifest and the wheels' own metadata, never from a resolve."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.dists import make_wheel
from wheelhub.build.graph import Graph, Node, graph_from_manifest
from wheelhub.build.report import render_html, report_data
from wheelhub.build.results import BuildResult
from wheelhub.manifest import Entry, Manifest, WheelRecord

WHEELHUB = str(Path(sys.executable).with_name("wheelhub"))


def _record(path: Path, project: str, version: str) -> WheelRecord:
    data = path.read_bytes()
    tag = path.name.removesuffix(".whl").split("-", 2)[2]
    return WheelRecord(filename=path.name, sha256=hashlib.sha256(data).hexdigest(),
                       size=len(data), project=project, version=version, tags=(tag,))


def _entry(project: str, status: str, wheels: tuple[WheelRecord, ...],
           requirement: str = "") -> Entry:
    return Entry(requirement=requirement or f"{project}==1.0", project=project, python="cp311",
                 key=project, status=status, wheels=wheels)  # type: ignore[arg-type]


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    house = tmp_path / "wheelhouse"
    pure = _record(make_wheel(house, "whfix-pure", "1.1"), "whfix-pure", "1.1")
    dependent = _record(make_wheel(house, "whfix-dependent", requires=[
        "whfix-pure>=1.0", "colorama; sys_platform == 'win32'",
        "whfix-clib; python_version < '3.0'"]), "whfix-dependent", "1.0")
    clib = _record(make_wheel(house, "whfix-clib", tag="cp311-cp311-manylinux_2_36_x86_64"),
                   "whfix-clib", "1.0")
    Manifest(entries=(
        _entry("whfix-dependent", "built", (dependent, pure)),
        _entry("whfix-clib", "built", (clib,)),
        _entry("whfix-broken", "failed", ()),
    )).save(house)
    return house


def test_edge_from_dependent_to_dependency_and_build_order(wheelhouse: Path) -> None:
    graph = graph_from_manifest(Manifest.load(wheelhouse), wheelhouse)
    assert graph.edges == (("whfix-dependent", "whfix-pure"),)  # markers false: no other edge
    order = [p for step in graph.build_order() for p in step]
    assert order.index("whfix-pure") < order.index("whfix-dependent")
    kinds = {n.project: (n.kind, n.requested) for n in graph.nodes}
    assert kinds == {"whfix-dependent": ("pure", True), "whfix-pure": ("pure", False),
                     "whfix-clib": ("compiled", True), "whfix-broken": ("failed", True)}
    assert graph.why("WHFIX_PURE") == [["whfix-dependent", "whfix-pure"]]
    assert graph.cycles() == []


def test_cycles_are_named_and_share_a_build_step() -> None:
    nodes = tuple(Node(project=p, versions=("1",), requested=p == "a", compiled=False,
                       failed=False, pythons=("cp311",)) for p in ("a", "b", "c", "d"))
    graph = Graph(nodes=nodes, edges=(("a", "b"), ("b", "c"), ("c", "b"), ("c", "d")),
                  pythons=("cp311",))
    assert graph.cycles() == [["b", "c", "b"]]
    assert graph.build_order() == [["d"], ["b", "c"], ["a"]]


def test_cli_text_json_and_dot_that_graphviz_renders(wheelhouse: Path, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([WHEELHUB, "graph", "-w", str(wheelhouse), *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60, check=False)

    text = run()
    assert text.returncode == 0, text.stderr
    assert "* whfix-dependent 1.0 [pure] -> whfix-pure" in text.stdout
    assert "build order: whfix-broken ; whfix-clib ; whfix-pure ; whfix-dependent" in text.stdout
    data = json.loads(run("--format", "json").stdout)
    assert {"from": "whfix-dependent", "to": "whfix-pure"} in data["edges"]
    assert run("--why", "whfix-pure").stdout == "whfix-dependent -> whfix-pure\n"
    dot = run("--format", "dot").stdout
    dot_binary = shutil.which("dot")
    assert dot_binary, "Graphviz missing: run scripts/install-system-deps.sh"
    svg = subprocess.run([dot_binary, "-Tsvg"], input=dot, capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert "<svg" in svg and "whfix&#45;dependent&#45;&gt;whfix&#45;pure" in svg


def test_cli_errors_say_what_to_do(tmp_path: Path, wheelhouse: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, message in (
            (["-w", str(empty)], "has no wheelhub-manifest.json"),
            (["-w", str(tmp_path / "nowhere")], "does not exist"),
            (["-w", str(wheelhouse), "--why", "whfix-prue"], "did you mean 'whfix-pure'?")):
        result = subprocess.run([WHEELHUB, "graph", *args], cwd=tmp_path, capture_output=True,
                                text=True, timeout=60, check=False)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert result.stdout == ""
    assert sorted(p.name for p in empty.iterdir()) == []  # nothing written


def test_report_shows_the_graph_as_a_picture(wheelhouse: Path) -> None:
    result = BuildResult(wheelhouse=wheelhouse, entries=Manifest.load(wheelhouse).entries)
    page = render_html(result)
    assert "<svg" in page and 'data-from="whfix-dependent" data-to="whfix-pure"' in page
    assert report_data(result)["graph"]["edges"] == [{"from": "whfix-dependent",
                                                      "to": "whfix-pure"}]
