"""``wheelhub cache info|prune``: what wheelhub keeps between runs, and its bounds."""

from __future__ import annotations

import argparse
import time

from wheelhub.cli.options import add_command, build_options_from_args

HELP = "show and prune prepared snapshots and the cache directory's caches"
DESCRIPTION = (
    "Prepared snapshots (the build image with the setup hook run and the build requirements "
    "installed, one per image x hook x build requirements x CA bundle x Python) live on the "
    "container engine; pip's and uv's caches, ccache, the sdists fetched on the host and the "
    "pinned tools in the cache directory. `info` lists them with "
    "sizes and last use; `prune` keeps the most recently used snapshots within cache.keep and "
    "cache.max_size (a build does the same when it ends).")


def configure(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    add_command(commands, "info", help="snapshots and the cache directory's caches: sizes "
                "and last use",
                run=run_info, options="cache")
    add_command(commands, "prune", help="remove the least recently used snapshots beyond "
                "--keep / --max-size", run=run_prune, options="cache")


def run_info(args: argparse.Namespace) -> int:
    from wheelhub.engines.cache import cache_info, human_size
    from wheelhub.util.table import render

    options = build_options_from_args(args)
    items = cache_info(options)
    rows = [(item.kind, item.name, human_size(item.size), _ago(item.last_used))
            for item in items]
    for line in render(("kind", "what", "size", "last used"), rows):
        print(line)
    snapshots = [i for i in items if i.kind == "snapshot"]
    print(f"{len(snapshots)} snapshot(s) on {options.engine}, "
          f"{human_size(sum(i.size for i in snapshots))}; budget: keep {options.cache_keep}"
          + (f", at most {human_size(options.cache_max_size)}" if options.cache_max_size else ""))
    return 0


def run_prune(args: argparse.Namespace) -> int:
    from wheelhub.engines.cache import human_size, prune

    options = build_options_from_args(args)
    result = prune(options, keep=options.cache_keep, max_size=options.cache_max_size)
    for item in result.removed:
        print(f"removed snapshot {item.name} ({human_size(item.size)})")
    for item in result.in_use:
        print(f"kept snapshot {item.name}: a container still uses it")
    print(f"removed {len(result.removed)} snapshot(s), freed {human_size(result.freed)}; "
          f"{len(result.kept)} kept")
    return 0


def _ago(when: float) -> str:
    if not when:
        return "never"
    seconds = max(time.time() - when, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"
