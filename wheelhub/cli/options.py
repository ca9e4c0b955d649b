"""Turning :data:`wheelhub.config.OPTIONS` into argparse flags and back."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from wheelhub.options import OPTIONS, BuildOptions, ResolvedConfig, resolve

# Short flags for the most used options, as in the README.
_SHORT = {"requirements": "-r", "build_requirements": "-b", "wheelhouse": "-w", "jobs": "-j"}


def add_build_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "build options", "each is also settable in wheelhub.yaml and as WHEELHUB_<NAME>; "
        "precedence: defaults < wheelhub.yaml < environment < command line")
    for spec in OPTIONS:
        flags = [spec.flag] + ([_SHORT[spec.name]] if spec.name in _SHORT else [])
        help_text = f"{spec.help} [env {spec.env}; default: {spec.default!r}]"
        if spec.kind == "bool":
            group.add_argument(*flags, dest=spec.name, action="store_const", const=True,
                               default=None, help=help_text)
        else:
            group.add_argument(*flags, dest=spec.name, default=None,
                               type=int if spec.kind == "int" else str, help=help_text)
    parser.add_argument("--config", type=Path, default=None,
                        help="configuration file (default: ./wheelhub.yaml if present)")


def resolved_from_args(args: argparse.Namespace) -> ResolvedConfig:
    cli: dict[str, Any] = {spec.name: getattr(args, spec.name, None) for spec in OPTIONS}
    return resolve(cli, config_path=args.config)


def build_options_from_args(args: argparse.Namespace) -> BuildOptions:
    return BuildOptions.from_config(resolved_from_args(args), cwd=Path.cwd(), env=os.environ)
