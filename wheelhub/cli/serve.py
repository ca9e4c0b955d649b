"""``wheelhub serve``: run the hub (uvicorn + httptools) on a root directory."""

from __future__ import annotations

import argparse
from typing import Any

from wheelhub.cli._hub import add_root, parse_size, root_of


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="run the package index (the hub)",
        description="Serve owners and labels under --root: the simple API for pip/uv "
        "(/<owner>/label/<label>/simple/), twine uploads (POST /<owner>/label/<label>/) and "
        "web pages. Create tokens with `wheelhub token create`.")
    add_root(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument("--max-upload-size", type=parse_size, default=parse_size("256M"),
                        metavar="SIZE", help="largest accepted upload; bigger ones get 413 "
                        "(default 256M)")
    parser.add_argument("--max-unpacked-size", type=parse_size, default=parse_size("2G"),
                        metavar="SIZE", help="largest total unpacked size of an archive "
                        "(zip bomb guard, default 2G)")
    parser.add_argument("--no-create-labels", action="store_true",
                        help="refuse uploads to labels that do not exist yet "
                        "(default: an upload with a matching token creates the label)")
    parser.add_argument("--access-log", action="store_true",
                        help="log every request (tokens in paths are masked)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from wheelhub.server.hub import HubSettings
    from wheelhub.server.serve import ServeOptions, serve

    settings = HubSettings(root=root_of(args), max_upload_bytes=args.max_upload_size,
                           max_unpacked_bytes=args.max_unpacked_size,
                           create_labels_on_upload=not args.no_create_labels,
                           access_log=args.access_log)
    serve(ServeOptions(settings=settings, host=args.host, port=args.port))
    return 0
