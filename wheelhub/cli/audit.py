"""``wheelhub audit OWNER``: the hub's append-only log of writes (who, from where, what)."""

from __future__ import annotations

import argparse
import datetime as dt
import json

from wheelhub.cli._hub import hub_client
from wheelhub.util.table import render

HELP = "show the audit log of an owner (every write: who, when, from where, which files)"
DESCRIPTION = ("Every write on the hub (upload, copy, move, promote, remove, yank, prune, "
               "visibility, import, retention, token and webhook changes) appends one event: "
               "time, the token's id and description (never the token), client address, "
               "label, action and files. Local (--root) or remote (--url, admin token).")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("owner")
    parser.add_argument("--since", default=None, metavar="AGE", help="only the last 7d, 12h, ...")
    parser.add_argument("--label", default=None, help="only events of this label")
    parser.add_argument("--action", default=None, help="only this action (upload, promote, ...)")
    parser.add_argument("--json", action="store_true", help="JSON lines, one event a line")


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def run(args: argparse.Namespace) -> int:
    with hub_client(args) as client:
        events: list[dict[str, object]] = client.owner(  # type: ignore[assignment]
            args.owner, "audit", {"since": args.since, "label": args.label,
                                  "action": args.action})["events"]
    if args.json:
        for event in events:
            print(json.dumps(event, sort_keys=True))
        return 0
    rows = []
    for event in events:
        files = list(event["files"])  # type: ignore[call-overload]
        shown = ", ".join(files[:3]) + (f" (+{len(files) - 3})" if len(files) > 3 else "")
        rows.append((_when(float(event["time"])), str(event["action"]),  # type: ignore[arg-type]
                     str(event["label"] or "-"), str(event["actor"]), str(event["address"]),
                     shown))
    print("\n".join(render(("time (UTC)", "action", "label", "actor", "address", "files"),
                           rows)))
    return 0
