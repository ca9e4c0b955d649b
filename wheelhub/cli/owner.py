"""``wheelhub owner create|list|visibility|upstream``: the accounts labels live under."""

from __future__ import annotations

import argparse

from wheelhub.cli._hub import hub_storage
from wheelhub.cli.options import add_command

HELP = "create and list hub owners"


def configure(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="owner_command", metavar="ACTION", required=True)
    create = add_command(commands, "create", help="create an owner (public unless --private)",
                         run=run_create, options="owner")
    create.add_argument("name")
    create.add_argument("--private", action="store_true",
                        help="everything under it answers 404 without a read token")
    add_command(commands, "list", help="list owners", run=run_list, options="owner")
    visibility = add_command(commands, "visibility", help="make an owner public or private",
                             run=run_visibility, options="owner")
    visibility.add_argument("name")
    visibility.add_argument("visibility", choices=("public", "private"))
    upstream = add_command(
        commands, "upstream", run=run_upstream, options="owner",
        help="one index URL: names the owner never published come from this index",
        description="Set the owner's upstream (e.g. https://pypi.org/simple/). Its labels "
        "then serve every project name the owner never published from the upstream (cached, "
        "hash-checked), and never an upstream file for a name the owner did publish, unless "
        "allowed with --allow. Without URL or flags: show the current setting.")
    upstream.add_argument("name")
    upstream.add_argument("url", nargs="?", help="the upstream's simple index URL")
    upstream.add_argument("--allow", action="append", default=[], metavar="PROJECT",
                          help="also show the upstream's files for this name of the owner's "
                          "(repeatable)")
    upstream.add_argument("--disallow", action="append", default=[], metavar="PROJECT",
                          help="take a name off the allow-list (repeatable)")
    upstream.add_argument("--off", action="store_true", help="remove the upstream")


def run_create(args: argparse.Namespace) -> int:
    with hub_storage(args) as storage:
        owner = storage.create_owner(args.name, private=args.private)
    print(f"created owner {owner.name} ({'private' if owner.private else 'public'})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    with hub_storage(args) as storage:
        for owner in storage.list_owners():
            print(f"{owner.name}\t{'private' if owner.private else 'public'}")
    return 0


def run_visibility(args: argparse.Namespace) -> int:
    with hub_storage(args) as storage:
        storage.set_owner_private(args.name, args.visibility == "private")
    print(f"owner {args.name} is now {args.visibility}")
    return 0


def run_upstream(args: argparse.Namespace) -> int:
    from wheelhub.server import set_upstream

    with hub_storage(args) as storage:
        if args.url is None and not (args.allow or args.disallow or args.off):
            upstream = storage.get_upstream(args.name)
        else:
            upstream = set_upstream(storage, args.name, args.url, allow=args.allow,
                                    disallow=args.disallow, off=args.off)
    if upstream is None:
        print(f"owner {args.name}: no upstream (install with --extra-index-url; "
              f"`wheelhub owner upstream {args.name} https://pypi.org/simple/` to set one)")
        return 0
    allowed = ", ".join(sorted(upstream.allow)) or "none"
    print(f"owner {args.name}: upstream {upstream.url} (names allowed from both sides: "
          f"{allowed})")
    return 0
