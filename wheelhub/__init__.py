"""wheelhub: build manylinux wheels for a requirements file and host them per branch.

Library API (the CLI is a thin layer over these)::

    from wheelhub import build, BuildOptions
    result = build(BuildOptions(...))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from wheelhub.build.results import BuildResult as BuildResult
    from wheelhub.build.run import build as build
    from wheelhub.options import BuildOptions as BuildOptions

__all__ = ["BuildOptions", "BuildResult", "__version__", "build"]

_LAZY = {
    "build": ("wheelhub.build.run", "build"),
    "BuildOptions": ("wheelhub.options", "BuildOptions"),
    "BuildResult": ("wheelhub.build.results", "BuildResult"),
}


def __getattr__(name: str) -> Any:
    # Lazy so `import wheelhub` stays cheap and has no side effects (no Docker SDK import).
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'wheelhub' has no attribute {name!r}")
