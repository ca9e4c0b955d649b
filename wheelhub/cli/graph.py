"""``wheelhub graph``: the built set's dependency graph, build order and cycles."""

from __future__ import annotations

import argparse

from wheelhub.cli.options import build_options_from_args

HELP = "show the dependency graph the build recorded (text, JSON or Graphviz DOT)"
DESCRIPTION = (
    "Read the wheelhouse's manifest and the metadata of the wheels it lists, and print the "
    "requirement set's dependency graph as built (no fresh resolve): which projects are in "
    "the requirements file and which came in as dependencies, pure or compiled, failed; the "
    "build order (dependencies first) and any cycles. `--format dot | dot -Tsvg` draws it.")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json", "dot"), default="text",
                        help="output format (default: text)")
    parser.add_argument("--why", metavar="NAME", default=None,
                        help="print which requirements pull NAME in, one path each")


def run(args: argparse.Namespace) -> int:
    import json

    from packaging.utils import canonicalize_name

    from wheelhub.build.graph import GraphInputError, dumps, load_graph

    options = build_options_from_args(args)
    graph = load_graph(options.wheelhouse, python=options.python)
    if args.why is None:
        print(dumps(graph, args.format), end="")
        return 0
    if graph.node(canonicalize_name(args.why)) is None:
        raise GraphInputError.unknown_project(args.why, [n.project for n in graph.nodes])
    paths = graph.why(args.why)
    if args.format == "json":
        print(json.dumps({"project": args.why, "paths": paths}, indent=2))
    else:
        for path in paths:
            print(" -> ".join(path))
    return 0
