"""``wheelhub serve``: run the hub (uvicorn + httptools) on a root directory."""

from __future__ import annotations

import argparse

from wheelhub.cli._hub import root_of
from wheelhub.cli.options import resolved_from_args

HELP = "run the package index (the hub)"
DESCRIPTION = (
    "Serve owners and labels under --root: the simple API for pip/uv "
    "(/<owner>/label/<label>/simple/), twine uploads (POST /<owner>/label/<label>/) and "
    "web pages. Create tokens with `wheelhub token create`.")


def run(args: argparse.Namespace) -> int:
    from wheelhub.server.hub import HubSettings
    from wheelhub.server.limits import ConnectionLimits
    from wheelhub.server.serve import ServeOptions, serve
    from wheelhub.server.upstream import UpstreamSettings
    from wheelhub.server.webhooks import DeliverySettings

    config = resolved_from_args(args)
    static_dir = config.get("serve.static_dir")
    settings = HubSettings(root=root_of(args, config), database=config.get("serve.database"),
                           static_dir=config.directory / static_dir if static_dir else None,
                           max_upload_bytes=config.get("serve.max_upload_size"),
                           max_unpacked_bytes=config.get("serve.max_unpacked_size"),
                           create_labels_on_upload=config.get("serve.create_labels"),
                           access_log=config.get("serve.access_log"),
                           body_timeout=config.get("serve.body_timeout"),
                           upstream=UpstreamSettings(ttl=config.get("serve.upstream_ttl"),
                                                     timeout=config.get("serve.upstream_timeout")),
                           webhooks=DeliverySettings(
                               timeout=config.get("serve.webhook_timeout"),
                               attempts=config.get("serve.webhook_attempts")))
    limits = ConnectionLimits(header_timeout=config.get("serve.header_timeout"),
                              keep_alive_timeout=config.get("serve.keep_alive_timeout"),
                              max_connections=config.get("serve.max_connections"))
    serve(ServeOptions(settings=settings, host=config.get("serve.host"),
                       port=config.get("serve.port"), limits=limits,
                       workers=config.get("serve.workers")))
    return 0
