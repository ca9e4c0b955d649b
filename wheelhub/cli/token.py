"""``wheelhub token create|list|revoke``: API tokens for the hub (stored only as hashes)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING

from wheelhub.cli._hub import hub_storage
from wheelhub.cli.options import add_command

if TYPE_CHECKING:
    from wheelhub.server.storage import Storage

HELP = "create, list and revoke hub tokens"


def configure(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="token_command", metavar="ACTION", required=True)

    create = add_command(
        commands, "create", help="create a token and print it (once) as the last line of stdout",
        description="Create a token for OWNER. If the owner does not exist it is created, "
        "public (use `wheelhub owner create NAME --private` first for a private one). "
        "Only the token's hash is stored: copy it now.",
        run=run_create, options="token")
    create.add_argument("--owner", required=True)
    create.add_argument("--scope", choices=("read", "upload", "admin"), default="upload",
                        help="read < upload < admin; each includes the ones before "
                        "(default upload)")
    create.add_argument("--label", dest="label_glob", default=None, metavar="GLOB",
                        help="limit the token to labels matching this glob, e.g. 'feature-*'")
    create.add_argument("--expires", default=None, metavar="DURATION",
                        help="e.g. 90d, 12h, 2w, 1y (default: never)")
    create.add_argument("--description", default="", help="a note shown by `token list`")

    listing = add_command(commands, "list", help="list tokens (never their secrets)", run=run_list, options="token")
    listing.add_argument("--owner", default=None)

    revoke = add_command(commands, "revoke", help="revoke a token by its id (see `token list`)",
                         run=run_revoke, options="token")
    revoke.add_argument("token_id", type=int, metavar="ID")


def run_create(args: argparse.Namespace) -> int:
    from wheelhub.server import issue_token

    with hub_storage(args) as storage:
        secret, record = issue_token(storage, owner=args.owner, scope=args.scope,
                                     label_glob=args.label_glob, expires=args.expires,
                                     description=args.description)
        _audit(storage, record.owner, "token-create", id=record.id, scope=record.scope.label,
               labels=record.label_glob or "*")
    expires = _when(record.expires) if record.expires else "never"
    print(f"token {record.id}: owner {record.owner}, scope {record.scope.label}, labels "
          f"{record.label_glob or '*'}, expires {expires}", file=sys.stderr)
    print(secret)
    return 0


def _audit(storage: Storage, owner: str, action: str, **detail: object) -> None:
    """The audit event of a token change made here (the local CLI is the actor)."""
    from wheelhub.server.hub import Hub, HubSettings
    from wheelhub.server.operations import Actor, Operations

    Operations(Hub(storage, HubSettings(root=storage.root))).record(
        Actor.local(), owner, "", action, detail=detail)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


def run_list(args: argparse.Namespace) -> int:
    with hub_storage(args) as storage:
        records = storage.list_tokens(args.owner)
    print(f"{'ID':>4}  {'OWNER':<16} {'SCOPE':<7} {'LABELS':<16} {'CREATED':<16} "
          f"{'EXPIRES':<16} {'STATUS':<8} TOKEN")
    for r in records:
        status = "revoked" if r.revoked else ("expired" if not r.is_active(
            dt.datetime.now(dt.timezone.utc).timestamp()) else "active")
        print(f"{r.id:>4}  {r.owner:<16} {r.scope.label:<7} {r.label_glob or '*':<16} "
              f"{_when(r.created):<16} {_when(r.expires):<16} {status:<8} {r.hint}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    from wheelhub.errors import UsageError

    with hub_storage(args) as storage:
        done = storage.revoke_token(args.token_id)
        owners = [t.owner for t in storage.list_tokens() if t.id == args.token_id]
        if done and owners:
            _audit(storage, owners[0], "token-revoke", id=args.token_id)
    if not done:
        raise UsageError(f"no active token with id {args.token_id}",
                         hint="see `wheelhub token list`")
    print(f"revoked token {args.token_id}")
    return 0
