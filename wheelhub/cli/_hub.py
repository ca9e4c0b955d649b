"""What the hub commands (serve, token, label, owner) share: the hub's root and storage."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from wheelhub.cli.options import resolved_from_args
from wheelhub.errors import UsageError
from wheelhub.options import ResolvedConfig

if TYPE_CHECKING:
    from wheelhub.server.client import HubClient
    from wheelhub.server.sqlite import SqlStorage


def root_of(args: argparse.Namespace, config: ResolvedConfig | None = None) -> Path:
    config = config or resolved_from_args(args)
    root: str = config.get("serve.root")
    if not root:
        raise UsageError("no hub root", hint="pass --root DIR or set WHEELHUB_ROOT")
    return config.directory / root


@contextlib.contextmanager
def hub_storage(args: argparse.Namespace) -> Iterator[SqlStorage]:
    """The storage under the hub root the arguments name, closed when done."""
    from wheelhub.server import open_storage

    storage = open_storage(root_of(args))
    try:
        yield storage
    finally:
        storage.close()


@contextlib.contextmanager
def hub_client(args: argparse.Namespace) -> Iterator[HubClient]:
    """The hub at ``--url`` (admin token from ``--token-env``), else the one under ``--root``."""
    import os

    from wheelhub.server.client import LocalClient, RemoteClient

    config = resolved_from_args(args)
    url: str = config.get("hub.url")
    client: HubClient
    if url:
        variable: str = config.get("hub.token_env")
        token = os.environ.get(variable, "")
        if not token:
            raise UsageError(f"--url {url} needs an admin token in ${variable}",
                             hint="create one with `wheelhub token create --scope admin` and "
                             f"export {variable}=...")
        client = RemoteClient(url, token)
    else:
        client = LocalClient(root_of(args, config))
    try:
        yield client
    finally:
        client.close()
