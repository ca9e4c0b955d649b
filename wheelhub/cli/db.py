"""``wheelhub db migrate``: move a hub's metadata from the embedded SQLite to PostgreSQL."""

from __future__ import annotations

import argparse

from wheelhub.cli._hub import root_of
from wheelhub.cli.options import add_command, resolved_from_args

HELP = "move the hub's database (SQLite under --root) to PostgreSQL"


def configure(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    add_command(commands, "migrate", run=run_migrate, options="db",
                help="copy every row into an empty PostgreSQL database, verified",
                description="Copy the hub's SQLite database under --root into the empty "
                "PostgreSQL database --to, in one transaction, and compare every table's row "
                "count and row hash on both sides. The root then remembers the database: "
                "`wheelhub serve --root` (and token, label, owner) use it from then on. Stop "
                "the hub first; the SQLite file is left as it was.")


def run_migrate(args: argparse.Namespace) -> int:
    from wheelhub.errors import UsageError
    from wheelhub.server.postgres import copy_from_sqlite, redact_url

    config = resolved_from_args(args)
    url: str = config.get("db.to")
    if not url:
        raise UsageError("no target database", hint="pass --to postgresql://USER@HOST/DB")
    copied = copy_from_sqlite(root_of(args, config), url)
    for table, (rows, digest) in sorted(copied.items()):
        print(f"{table}\t{rows} rows\tsha256 {digest[:16]}")
    print(f"copied {sum(r for r, _ in copied.values())} rows in {len(copied)} tables to "
          f"{redact_url(url)}; verified")
    return 0
