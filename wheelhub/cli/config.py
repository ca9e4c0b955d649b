"""``wheelhub config``: the effective value of every option and where it came from."""

from __future__ import annotations

import argparse
import json
from typing import Any

from wheelhub.cli.options import add_build_options, resolved_from_args


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "config", help="print the effective options and where each value came from")
    add_build_options(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = resolved_from_args(args)
    if args.json:
        data = {name: {"value": v.value, "source": v.source} for name, v in config.values.items()}
        data["recipes"] = {"value": sorted(config.recipes), "source": str(config.config_path)}
        print(json.dumps(data, indent=2))
        return 0
    width = max(len(name) for name in config.values)
    for name, value in config.values.items():
        print(f"{name.ljust(width)}  {value.value!r:40}  ({value.source})")
    if config.recipes:
        print(f"{'recipes'.ljust(width)}  {', '.join(sorted(config.recipes))}  "
              f"({config.config_path})")
    return 0
