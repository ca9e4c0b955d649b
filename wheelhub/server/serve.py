"""Run the hub with uvicorn (httptools parser) - a production ASGI server."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from wheelhub.server.app import HubApp
from wheelhub.server.hub import Hub, HubSettings
from wheelhub.server.limits import ConnectionLimits
from wheelhub.server.sqlite import SqliteStorage
from wheelhub.server.webhooks import Deliverer
from wheelhub.util.log import get_logger

log = get_logger("server")


@dataclass(frozen=True, kw_only=True, slots=True)
class ServeOptions:
    settings: HubSettings
    host: str = "127.0.0.1"
    port: int = 8080
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)


def build_app(settings: HubSettings) -> HubApp:
    storage = SqliteStorage(settings.root)
    removed = storage.clean_temp()
    if removed:
        log.info("removed %d leftover partial upload(s) from %s", removed, storage.tmp)
    return HubApp(Hub(storage, settings), Deliverer(storage, settings.webhooks))


def serve(options: ServeOptions) -> None:
    """Serve until interrupted. uvicorn's access log is off: paths may hold /t/<token>/."""
    import uvicorn

    from wheelhub.server.limits import bounded_protocol

    app = build_app(options.settings)
    config = uvicorn.Config(app, host=options.host, port=options.port,
                            http=bounded_protocol(options.limits), loop="asyncio",
                            lifespan="on", access_log=False, log_config=None,
                            server_header=False,
                            timeout_keep_alive=int(options.limits.keep_alive_timeout),
                            backlog=2048)
    log.info("wheelhub hub: serving %s on http://%s:%d/ (pid %d)", options.settings.root,
             options.host, options.port, os.getpid())
    uvicorn.Server(config).run()
