"""``wheelhub label list|create|copy|move|promote|remove|yank|visibility|retention|prune|
archive|import|gc``: labels are views, with a lifecycle.

Every operation is one transaction on the hub's storage: promote ``dev`` -> ``staging``
-> ``main`` (``promote --require tested`` takes only wheels whose test passed); remove a
file, a version, a project or everything; files no label references any more are deleted
(garbage-collected) right away. Retention rules say what ``prune`` removes. The writes go
through one client (:mod:`wheelhub.server.client`): the hub under ``--root``, or a hub
URL (``--url``) with an admin token; either way they land in the audit log.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from wheelhub.cli._hub import hub_client, hub_storage
from wheelhub.cli.options import add_command, add_options, resolved_from_args
from wheelhub.errors import UsageError
from wheelhub.server.storage import Selection
from wheelhub.util.table import render


def _add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", default=None, help="only this project")
    parser.add_argument("--version", default=None, help="only this version (needs --project)")
    parser.add_argument("--file", dest="filename", default=None, help="only this filename")


def _common(parser: argparse.ArgumentParser) -> None:
    add_options(parser, "label")
    parser.add_argument("--owner", required=True)


HELP = "list, copy, move and remove labels on the hub"


def configure(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="label_command", metavar="ACTION", required=True)

    listing = commands.add_parser("list", help="labels of an owner (or files of one label)")
    _common(listing)
    listing.add_argument("label", nargs="?", help="list this label's files instead")
    listing.set_defaults(func=run_list)

    create = commands.add_parser("create", help="create an empty label")
    _common(create)
    create.add_argument("label")
    create.add_argument("--private", action="store_true")
    create.add_argument("--bases", type=_names, default=(), metavar="LABEL[,LABEL...]",
                        help="labels of the same owner whose files show through, in order")
    create.set_defaults(func=run_create)

    bases = commands.add_parser("bases", help="set the labels a label falls back to")
    _common(bases)
    bases.add_argument("label")
    bases.add_argument("bases", type=_names, metavar="LABEL[,LABEL...]",
                       help="ordered base labels; '' for none")
    bases.set_defaults(func=run_bases)

    for name, helptext in (("copy", "copy files into another label (atomically)"),
                           ("move", "move files into another label (atomically)")):
        sub = commands.add_parser(name, help=helptext)
        _common(sub)
        sub.add_argument("source")
        sub.add_argument("target")
        _add_selection(sub)
        sub.set_defaults(func=run_copy, move=name == "move")

    remove = commands.add_parser(
        "remove", help="remove files from a label; unreferenced files are deleted")
    _common(remove)
    remove.add_argument("label")
    _add_selection(remove)
    remove.add_argument("--all", action="store_true", help="remove every file")
    remove.add_argument("--delete", action="store_true", help="remove the label itself too")
    remove.set_defaults(func=run_remove)

    yank = commands.add_parser("yank", help="yank files in a label (PEP 592)")
    _common(yank)
    yank.add_argument("label")
    _add_selection(yank)
    yank.add_argument("--reason", default="")
    yank.add_argument("--undo", action="store_true", help="un-yank")
    yank.set_defaults(func=run_yank)

    visibility = commands.add_parser("visibility", help="make a label public or private")
    _common(visibility)
    visibility.add_argument("label")
    visibility.add_argument("visibility", choices=("public", "private"))
    visibility.set_defaults(func=run_visibility)

    _configure_lifecycle(commands)
    add_command(commands, "gc", help="delete files and blobs nothing references", run=run_gc, options="label")


def _configure_lifecycle(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    promote = add_command(commands, "promote", options="label", run=run_promote,
                          help="copy a label's files into another, atomically, behind gates")
    promote.add_argument("owner")
    promote.add_argument("source")
    promote.add_argument("target")
    promote.add_argument("--require", choices=("tested",), default=None,
                         help="only wheels whose recorded test verdict is 'passed'; the "
                         "others are named and left behind")
    _add_selection(promote)

    retention = add_command(commands, "retention", options="label", run=run_retention,
                            help="set, list or remove the retention rules prune applies")
    retention.add_argument("owner")
    retention.add_argument("glob", nargs="?", help="labels the rule covers, e.g. 'feature-*'")
    retention.add_argument("--keep-versions", default=None, metavar="N",
                           help="keep the newest N versions of each project")
    retention.add_argument("--max-age", default=None, metavar="AGE",
                           help="remove the label when its last upload is older (30d, 12h, 2w)")
    retention.add_argument("--remove", action="store_true", help="delete the rule for GLOB")

    prune = add_command(commands, "prune", options="label", run=run_prune,
                        help="apply the retention rules (a dry run unless --yes)")
    prune.add_argument("owner")
    prune.add_argument("--yes", action="store_true", help="remove what the dry run lists")
    prune.add_argument("--branches-from", default=None, metavar="REMOTE",
                       help="also remove labels (covered by a rule) whose branch is gone from "
                       "this git remote (git ls-remote)")
    prune.add_argument("--json", action="store_true", help="print the plan as JSON")

    archive = add_command(commands, "archive", options="label", run=run_archive,
                          help="write a label as a tar: a static PEP 503/691 index + records")
    archive.add_argument("owner")
    archive.add_argument("label")
    archive.add_argument("-o", "--output", required=True, type=Path, metavar="FILE.tar")

    imported = add_command(commands, "import", options="label", run=run_import,
                           help="read a label archive back (all files checked, all or nothing)")
    imported.add_argument("owner")
    imported.add_argument("label")
    imported.add_argument("archive", type=Path, metavar="FILE.tar")


def _selection(args: argparse.Namespace) -> Selection:
    if args.version and not args.project:
        raise UsageError("--version needs --project")
    return Selection(project=args.project, version=args.version, filename=args.filename)


def run_list(args: argparse.Namespace) -> int:
    with hub_storage(args) as storage:
        if args.label:
            for record in storage.list_files(args.owner, args.label):
                yanked = "  (yanked)" if record.yanked is not None else ""
                print(f"{record.project}\t{record.version}\t{record.filename}\t"
                      f"{record.size}\t{record.sha256}{yanked}")
            return 0
        for label in storage.list_labels(args.owner):
            print(f"{label.name}\t{'private' if label.private else 'public'}\t"
                  f"{label.projects} projects\t{label.files} files{_on(label.bases)}")
    return 0


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _on(bases: tuple[str, ...]) -> str:
    return f" on {', '.join(bases)}" if bases else ""


def run_create(args: argparse.Namespace) -> int:
    with hub_storage(args) as storage:
        storage.create_label(args.owner, args.label, private=args.private, bases=args.bases)
    print(f"created label {args.owner}/{args.label}{_on(args.bases)}")
    return 0


def run_bases(args: argparse.Namespace) -> int:
    with hub_storage(args) as storage:
        storage.set_bases(args.owner, args.label, args.bases)
    print(f"label {args.owner}/{args.label} now falls back{_on(args.bases) or ' on nothing'}")
    return 0


def _selection_args(args: argparse.Namespace) -> dict[str, object]:
    selection = _selection(args)
    return {"project": selection.project, "version": selection.version,
            "filename": selection.filename}


def run_copy(args: argparse.Namespace) -> int:
    with hub_client(args) as client:
        count = client.label(args.owner, args.source, "move" if args.move else "copy",
                             {**_selection_args(args), "to": args.target})["files"]
    print(f"{'moved' if args.move else 'copied'} {count} file(s) "
          f"{args.owner}/{args.source} -> {args.owner}/{args.target}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    selection = _selection(args)
    if selection == Selection() and not (args.all or args.delete):
        raise UsageError("say what to remove", hint="--project/--version/--file, or --all")
    with hub_client(args) as client:
        if args.delete and selection == Selection():
            count = client.label(args.owner, args.label, "delete", {})["files"]
        else:
            count = client.label(args.owner, args.label, "remove", _selection_args(args))["files"]
            if args.delete:
                client.label(args.owner, args.label, "delete", {})
    print(f"removed {count} file(s) from {args.owner}/{args.label}")
    return 0


def run_yank(args: argparse.Namespace) -> int:
    with hub_client(args) as client:
        count = client.label(args.owner, args.label, "unyank" if args.undo else "yank",
                             {**_selection_args(args), "reason": args.reason})["files"]
    print(f"{'un-yanked' if args.undo else 'yanked'} {count} file(s)")
    return 0


def run_visibility(args: argparse.Namespace) -> int:
    with hub_client(args) as client:
        client.label(args.owner, args.label, "visibility",
                     {"private": args.visibility == "private"})
    print(f"label {args.owner}/{args.label} is now {args.visibility}")
    return 0


def run_gc(args: argparse.Namespace) -> int:
    with hub_storage(args) as storage:
        removed = storage.collect_garbage()
    print(f"removed {removed} unreferenced blob(s)")
    return 0


def run_promote(args: argparse.Namespace) -> int:
    with hub_client(args) as client:
        result = client.label(args.owner, args.source, "promote",
                              {**_selection_args(args), "to": args.target,
                               "require": args.require})
    promoted, left = list(result["promoted"]), list(result["left_behind"])  # type: ignore[call-overload]
    print(f"promoted {len(promoted)} file(s) {args.owner}/{args.source} -> "
          f"{args.owner}/{args.target}")
    for filename, why in left:
        print(f"left behind: {filename} ({why})")
    return 0


def run_retention(args: argparse.Namespace) -> int:
    request: dict[str, object] = {}
    if args.glob is not None:
        if not (args.remove or args.keep_versions or args.max_age):
            raise UsageError(f"say what the rule for '{args.glob}' keeps",
                             hint="--keep-versions N and/or --max-age 30d (or --remove)")
        request = {"glob": args.glob, "keep_versions": args.keep_versions,
                   "max_age": args.max_age, "remove": args.remove}
    with hub_client(args) as client:
        rules = client.owner(args.owner, "retention", request)["rules"]
    for rule in rules:  # type: ignore[attr-defined]
        print(f"{rule['glob']}\t{rule['text']}")
    return 0


def live_labels(remote: str, args: argparse.Namespace) -> list[str]:
    """The labels of the branches and tags *remote* has (the publish label rules)."""
    from wheelhub.publish.labels import Ref, decide, rules_from_config

    config = resolved_from_args(args)
    try:
        out = subprocess.run(["git", "ls-remote", "--heads", "--tags", remote],
                             cwd=config.directory, capture_output=True, text=True, check=True,
                             timeout=120).stdout
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        raise UsageError(f"git ls-remote {remote} failed: {detail.strip()[:200]}",
                         hint="pass a remote name or URL git can reach") from None
    rules = rules_from_config(config)
    labels: set[str] = set()
    for line in out.splitlines():
        ref = line.partition("\t")[2].removesuffix("^{}")
        is_tag = ref.startswith("refs/tags/")
        name = ref.removeprefix("refs/tags/" if is_tag else "refs/heads/")
        labels.add(decide(Ref(name=name, is_tag=is_tag, source="git", why=remote),
                          rules).label)
    return sorted(labels)


def run_prune(args: argparse.Namespace) -> int:
    live = live_labels(args.branches_from, args) if args.branches_from else None
    with hub_client(args) as client:
        result = client.owner(args.owner, "prune", {"apply": args.yes, "live_labels": live})
    items: list[dict[str, str]] = result["items"]  # type: ignore[assignment]
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    verb = "removed" if args.yes else "would remove"
    rows = [(i["label"], i["filename"] or "(whole label)", i["rule"], i["reason"]) for i in items]
    if rows:
        print("\n".join(render(("label", "file", "rule", "why"), rows)))
    print(f"{verb} {sum(1 for i in items if i['filename'])} file(s) and "
          f"{sum(1 for i in items if not i['filename'])} label(s)"
          + ("" if args.yes else "; run again with --yes to apply"))
    return 0


def run_archive(args: argparse.Namespace) -> int:
    with hub_client(args) as client:
        client.archive(args.owner, args.label, args.output)
    print(f"wrote {args.owner}/{args.label} to {args.output} (pip: unpack it and use "
          "--index-url file:///DIR/simple/ or --find-links DIR/files)")
    return 0


def run_import(args: argparse.Namespace) -> int:
    if not args.archive.is_file():
        raise UsageError(f"no archive at {args.archive}", hint="make one with `wheelhub label "
                         "archive OWNER LABEL -o FILE.tar`")
    with hub_client(args) as client:
        result = client.import_archive(args.owner, args.label, args.archive)
    print(f"imported {result['files']} file(s) into {args.owner}/{args.label}")
    return 0
