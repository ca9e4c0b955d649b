"""The options table as argparse flags, and the flags given back as a resolved config."""

from __future__ import annotations

import argparse
import os
from typing import Any

from wheelhub.options import OPTIONS, BuildOptions, ResolvedConfig, options_for, resolve


def add_options(parser: argparse.ArgumentParser, command: str) -> None:
    """The flags of every option *command* reads (see :data:`wheelhub.options.OPTIONS`)."""
    group = parser.add_argument_group(
        "settings", "each is also settable in wheelhub.yaml and as an environment variable "
        "(`wheelhub config` lists them); precedence: defaults < wheelhub.yaml < environment "
        "< command line")
    for spec in options_for(command):
        help_text = f"{spec.help} [env {spec.env}; default: {spec.default!r}]"
        if spec.kind == "bool":
            # A flag switches from the default: --force sets true, --no-create-labels false.
            group.add_argument(*spec.cli_flags, dest=spec.dest, action="store_const",
                               const=not spec.default, default=None, help=help_text)
        else:
            group.add_argument(*spec.cli_flags, dest=spec.dest, default=None,
                               action="append" if spec.repeat else "store",
                               type=int if spec.kind == "int" else str,
                               choices=spec.choices or None,
                               metavar=spec.metavar or (None if spec.choices else spec.key.upper()),
                               help=help_text)


def resolved_from_args(args: argparse.Namespace) -> ResolvedConfig:
    cli: dict[str, Any] = {spec.name: getattr(args, spec.dest, None) for spec in OPTIONS}
    return resolve(cli)


def build_options_from_args(args: argparse.Namespace) -> BuildOptions:
    config = resolved_from_args(args)
    return BuildOptions.from_config(config, cwd=config.directory, env=os.environ)


def add_command(subparsers: Any, name: str, *, run: Any, options: str | None = None,
                **parser_kwargs: Any) -> argparse.ArgumentParser:
    """A (sub)command parser with the flags of its options and *run* as its handler.

    *options* names the command whose options it takes (default: *name*).
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(name, **parser_kwargs)
    add_options(parser, options or name)
    parser.set_defaults(func=run)
    return parser
