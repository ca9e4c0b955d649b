"""wheelhub: build manylinux wheels for a requirements file and host them per branch.

Library API, one call per stage (the CLI is a thin layer over these)::

    from wheelhub import build, test_wheelhouse, publish, BuildOptions, TestOptions
    built = build(BuildOptions(...))          # requirements -> repaired wheelhouse
    tested = test_wheelhouse(TestOptions(...))  # clean runtime containers, verdicts
    published = publish(PublishOptions(...))  # good wheels -> a label
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from wheelhub.build.results import BuildResult as BuildResult
    from wheelhub.build.run import build as build
    from wheelhub.options import BuildOptions as BuildOptions
    from wheelhub.options import TestOptions as TestOptions
    from wheelhub.publish import publish as publish
    from wheelhub.publish.model import PublishOptions as PublishOptions
    from wheelhub.publish.model import PublishResult as PublishResult
    from wheelhub.verify.results import TestResult as TestResult
    from wheelhub.verify.run import test_wheelhouse as test_wheelhouse

__all__ = ["BuildOptions", "BuildResult", "PublishOptions", "PublishResult", "TestOptions",
           "TestResult", "__version__", "build", "publish", "test_wheelhouse"]

_LAZY = {
    "build": ("wheelhub.build.run", "build"),
    "BuildOptions": ("wheelhub.options", "BuildOptions"),
    "BuildResult": ("wheelhub.build.results", "BuildResult"),
    "test_wheelhouse": ("wheelhub.verify.run", "test_wheelhouse"),
    "TestOptions": ("wheelhub.options", "TestOptions"),
    "TestResult": ("wheelhub.verify.results", "TestResult"),
    "publish": ("wheelhub.publish", "publish"),
    "PublishOptions": ("wheelhub.publish.model", "PublishOptions"),
    "PublishResult": ("wheelhub.publish.model", "PublishResult"),
}


def __getattr__(name: str) -> Any:
    # Lazy so `import wheelhub` stays cheap and has no side effects (no Docker SDK import).
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'wheelhub' has no attribute {name!r}")
