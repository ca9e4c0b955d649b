"""``wheelhub config``: the effective value of every option and where it came from."""

from __future__ import annotations

import argparse
import json
from typing import Any

from wheelhub.cli.options import resolved_from_args
from wheelhub.options import COMMANDS, OPTIONS

HELP = "print the effective options and where each value came from"
DESCRIPTION = (
    "Every option of every command with its value and its source (default, "
    "wheelhub.yaml, env WHEELHUB_..., command line). The build flags below show what "
    "they would change.")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--command", choices=COMMANDS, default=None,
                        help="only the options this command reads")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    config = resolved_from_args(args)
    specs = [spec for spec in OPTIONS if args.command is None or args.command in spec.commands]
    if args.json:
        data: dict[str, Any] = {
            spec.name: {"value": config.values[spec.name].value,
                        "source": config.values[spec.name].source,
                        "commands": sorted(spec.commands)}
            for spec in specs}
        data["recipes"] = {"value": sorted(config.recipes), "source": str(config.config_path)}
        print(json.dumps(data, indent=2))
        return 0
    width = max(len(spec.name) for spec in specs)
    for spec in specs:
        value = config.values[spec.name]
        print(f"{spec.name.ljust(width)}  {value.value!r:40}  ({value.source})")
    if config.recipes and args.command is None:
        print(f"{'recipes'.ljust(width)}  {', '.join(sorted(config.recipes))}  "
              f"({config.config_path})")
    return 0
