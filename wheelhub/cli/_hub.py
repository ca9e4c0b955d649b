"""Arguments shared by the hub commands (serve, token, label, owner)."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from wheelhub.errors import UsageError

_SIZE = re.compile(r"^(\d+)\s*([kmg]?)i?b?$", re.IGNORECASE)


def add_root(parser: argparse.ArgumentParser) -> None:
    default = os.environ.get("WHEELHUB_ROOT")
    parser.add_argument("--root", type=Path, default=Path(default) if default else None,
                        required=default is None,
                        help="the hub's data directory (default: $WHEELHUB_ROOT)")


def parse_size(text: str) -> int:
    match = _SIZE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"invalid size '{text}' (use e.g. 500M, 2G, 1048576)")
    return int(match.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[
        match.group(2).lower()]


def root_of(args: argparse.Namespace) -> Path:
    root: Path | None = args.root
    if root is None:
        raise UsageError("no hub root", hint="pass --root DIR or set WHEELHUB_ROOT")
    return root
