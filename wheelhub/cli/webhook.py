"""``wheelhub webhook add|list|remove|deliveries``: signed POSTs to you on hub events."""

from __future__ import annotations

import argparse
import datetime as dt
import os

from wheelhub.cli._hub import hub_client
from wheelhub.cli.options import add_command
from wheelhub.errors import UsageError
from wheelhub.util.table import render

HELP = "send signed HTTP POSTs on an owner's hub events (upload, promote, remove, ...)"
EPILOG = """\
Each event is a JSON POST with X-Wheelhub-Event, X-Wheelhub-Delivery and
X-Wheelhub-Signature: sha256=<HMAC-SHA256 of the body keyed by the secret>. Check it:

    import hashlib, hmac
    def verified(secret: bytes, body: bytes, header: str) -> bool:
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, header)

Failed deliveries are retried with exponential backoff; `webhook deliveries` shows each.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="webhook_command", metavar="ACTION", required=True)
    add = add_command(commands, "add", options="webhook", run=run_add,
                      help="POST to URL on the chosen events")
    add.add_argument("owner")
    add.add_argument("url")
    add.add_argument("--events", required=True,
                     help="comma-separated: upload,promote,remove,... or '*' for all")
    add.add_argument("--secret-env", required=True, metavar="VAR",
                     help="environment variable holding the signing secret (16+ characters)")
    listing = add_command(commands, "list", options="webhook", run=run_list,
                          help="the owner's webhooks (never their secrets)")
    listing.add_argument("owner")
    remove = add_command(commands, "remove", options="webhook", run=run_remove,
                         help="stop sending to a webhook")
    remove.add_argument("owner")
    remove.add_argument("webhook_id", type=int, metavar="ID")
    deliveries = add_command(commands, "deliveries", options="webhook", run=run_deliveries,
                             help="every delivery and its last outcome")
    deliveries.add_argument("owner")
    deliveries.add_argument("--webhook", type=int, default=None, metavar="ID")


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _print_hooks(hooks: object) -> None:
    rows = [(str(h["id"]), h["url"], ",".join(h["events"]), "$" + h["secret_env"])
            for h in hooks]  # type: ignore[attr-defined]
    print("\n".join(render(("id", "url", "events", "secret"), rows)))


def run_add(args: argparse.Namespace) -> int:
    secret = os.environ.get(args.secret_env, "")
    if not secret:
        raise UsageError(f"${args.secret_env} is not set",
                         hint=f"export {args.secret_env}=$(openssl rand -hex 32) and give the "
                         "same secret to the receiver")
    with hub_client(args) as client:
        result = client.owner(args.owner, "webhooks", {
            "url": args.url, "events": args.events.split(","), "secret": secret,
            "secret_env": args.secret_env})
    _print_hooks(result["webhooks"])
    return 0


def run_list(args: argparse.Namespace) -> int:
    with hub_client(args) as client:
        _print_hooks(client.owner(args.owner, "webhooks", {})["webhooks"])
    return 0


def run_remove(args: argparse.Namespace) -> int:
    with hub_client(args) as client:
        client.owner(args.owner, "webhooks", {"remove": args.webhook_id})
    print(f"removed webhook {args.webhook_id}")
    return 0


def run_deliveries(args: argparse.Namespace) -> int:
    with hub_client(args) as client:
        found = client.owner(args.owner, "deliveries", {"webhook": args.webhook})["deliveries"]
    rows = [(str(d["id"]), str(d["webhook"]), d["event"], d["state"], str(d["attempts"]),
             d["status"] or "-", _when(d["updated"])) for d in found]  # type: ignore[attr-defined]
    print("\n".join(render(("id", "hook", "event", "state", "tries", "last", "updated (UTC)"),
                           rows)))
    return 0
