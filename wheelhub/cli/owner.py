"""``wheelhub owner create|list|visibility``: the accounts labels live under."""

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
