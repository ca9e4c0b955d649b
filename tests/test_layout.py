"""The package reads as the pipeline: each stage imports only the stages before it.

options/manifest/errors/util are the shared contracts; engines are the only place that
talks to a container engine; the hub (server) depends on the index contract, never on
the build side.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "wheelhub"
CONTRACTS = {"errors", "util", "options", "manifest"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "util": {"errors"},
    "options": {"errors", "util"},
    "manifest": {"errors", "util"},
    "index": {"errors", "util"},
    "engines": CONTRACTS,
    # the remote build cache's records and clients; read by build, written by publish
    "cache": CONTRACTS | {"index"},
    "build": CONTRACTS | {"engines", "cache", "index"},
    "verify": CONTRACTS | {"engines", "build"},
    "publish": CONTRACTS | {"index", "cache"},
    "server": {"errors", "util", "index"},
    "ci": CONTRACTS | {"build", "verify", "publish"},
    # reads requirements files (build) and the simple API (index)
    "outdated": CONTRACTS | {"build", "index"},
}


def _stage(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if _stage(p) in ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_stage_imports_only_earlier_stages(path: Path) -> None:
    stage = _stage(path)
    used = {module.split(".")[1] for module in _imports(path)
            if module.startswith("wheelhub.") and module.split(".")[1] != stage}
    assert used <= ALLOWED[stage], f"{stage} may not import {sorted(used - ALLOWED[stage])}"


def test_only_engines_oci_talks_to_docker() -> None:
    talking = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                     if any(m == "docker" or m.startswith("docker.") for m in _imports(p)))
    assert talking == ["engines/oci.py"]
