"""``wheelhub label list|create|copy|move|remove|yank|visibility|gc``: labels are views.

Every operation is one transaction on the hub's storage: promote ``dev`` -> ``staging``
-> ``main`` with copy/move; remove a file, a version, a project or everything; files no
label references any more are deleted (garbage-collected) right away.
"""

from __future__ import annotations

import argparse

from wheelhub.cli._hub import hub_storage
from wheelhub.cli.options import add_command, add_options
from wheelhub.errors import UsageError
from wheelhub.server.storage import Selection


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

    add_command(commands, "gc", help="delete files and blobs nothing references", run=run_gc, options="label")


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


def run_copy(args: argparse.Namespace) -> int:
    with hub_storage(args) as storage:
        count = storage.copy(args.owner, args.source, args.target, _selection(args),
                             move=args.move)
    print(f"{'moved' if args.move else 'copied'} {count} file(s) "
          f"{args.owner}/{args.source} -> {args.owner}/{args.target}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    selection = _selection(args)
    if selection == Selection() and not (args.all or args.delete):
        raise UsageError("say what to remove", hint="--project/--version/--file, or --all")
    with hub_storage(args) as storage:
        if args.delete and selection == Selection():
            count = storage.delete_label(args.owner, args.label)
        else:
            count = storage.remove(args.owner, args.label, selection)
            if args.delete:
                storage.delete_label(args.owner, args.label)
    print(f"removed {count} file(s) from {args.owner}/{args.label}")
    return 0


def run_yank(args: argparse.Namespace) -> int:
    with hub_storage(args) as storage:
        count = storage.yank(args.owner, args.label, _selection(args),
                             None if args.undo else args.reason)
    print(f"{'un-yanked' if args.undo else 'yanked'} {count} file(s)")
    return 0


def run_visibility(args: argparse.Namespace) -> int:
    with hub_storage(args) as storage:
        storage.set_label_private(args.owner, args.label, args.visibility == "private")
    print(f"label {args.owner}/{args.label} is now {args.visibility}")
    return 0


def run_gc(args: argparse.Namespace) -> int:
    with hub_storage(args) as storage:
        removed = storage.collect_garbage()
    print(f"removed {removed} unreferenced blob(s)")
    return 0
