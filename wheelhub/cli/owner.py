"""``wheelhub owner create|list|visibility``: the accounts labels live under."""

from __future__ import annotations

import argparse
from typing import Any

from wheelhub.cli._hub import root_of
from wheelhub.cli.options import add_options


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "owner", help="create and list hub owners")
    commands = parser.add_subparsers(dest="owner_command", metavar="ACTION", required=True)
    create = commands.add_parser("create", help="create an owner (public unless --private)")
    add_options(create, "owner")
    create.add_argument("name")
    create.add_argument("--private", action="store_true",
                        help="everything under it answers 404 without a read token")
    create.set_defaults(func=run_create)
    listing = commands.add_parser("list", help="list owners")
    add_options(listing, "owner")
    listing.set_defaults(func=run_list)
    visibility = commands.add_parser("visibility", help="make an owner public or private")
    add_options(visibility, "owner")
    visibility.add_argument("name")
    visibility.add_argument("visibility", choices=("public", "private"))
    visibility.set_defaults(func=run_visibility)


def run_create(args: argparse.Namespace) -> int:
    from wheelhub.server import open_storage

    storage = open_storage(root_of(args))
    try:
        owner = storage.create_owner(args.name, private=args.private)
    finally:
        storage.close()
    print(f"created owner {owner.name} ({'private' if owner.private else 'public'})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from wheelhub.server import open_storage

    storage = open_storage(root_of(args))
    try:
        for owner in storage.list_owners():
            print(f"{owner.name}\t{'private' if owner.private else 'public'}")
    finally:
        storage.close()
    return 0


def run_visibility(args: argparse.Namespace) -> int:
    from wheelhub.server import open_storage

    storage = open_storage(root_of(args))
    try:
        storage.set_owner_private(args.name, args.visibility == "private")
    finally:
        storage.close()
    print(f"owner {args.name} is now {args.visibility}")
    return 0
