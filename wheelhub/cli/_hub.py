"""What the hub commands (serve, token, label, owner) share: the hub's root directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from wheelhub.cli.options import resolved_from_args
from wheelhub.errors import UsageError
from wheelhub.options import ResolvedConfig


def root_of(args: argparse.Namespace, config: ResolvedConfig | None = None) -> Path:
    config = config or resolved_from_args(args)
    root: str = config.get("serve.root")
    if not root:
        raise UsageError("no hub root", hint="pass --root DIR or set WHEELHUB_ROOT")
    return config.directory / root
