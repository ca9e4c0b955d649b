"""Run the hub with uvicorn (httptools parser) - a production ASGI server."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wheelhub.server import open_storage
from wheelhub.server.app import HubApp
from wheelhub.server.hub import Hub, HubSettings
from wheelhub.server.limits import ConnectionLimits
from wheelhub.server.webhooks import Deliverer
from wheelhub.util.log import get_logger

if TYPE_CHECKING:
    import uvicorn

log = get_logger("server")


@dataclass(frozen=True, kw_only=True, slots=True)
class ServeOptions:
    settings: HubSettings
    host: str = "127.0.0.1"
    port: int = 8080
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    workers: int = 1  # processes accepting on one socket, each with its own pool


def build_app(settings: HubSettings, *, rebuild: bool = True) -> HubApp:
    """The app on a fresh storage; *rebuild* the static tree (once per start, not per
    worker)."""
    storage = open_storage(settings.root, settings.database, settings.static_dir)
    if rebuild and storage.static is not None:
        storage.static.rebuild(storage)
    removed = storage.clean_temp()
    if removed:
        log.info("removed %d leftover partial upload(s) from %s", removed, storage.tmp)
    return HubApp(Hub(storage, settings), Deliverer(storage, settings.webhooks))


def _config(options: ServeOptions, app: HubApp) -> uvicorn.Config:
    import uvicorn

    from wheelhub.server.limits import bounded_protocol

    return uvicorn.Config(app, host=options.host, port=options.port,
                          http=bounded_protocol(options.limits), loop="asyncio",
                          lifespan="on", access_log=False, log_config=None,
                          server_header=False,
                          timeout_keep_alive=int(options.limits.keep_alive_timeout),
                          backlog=2048)


def serve(options: ServeOptions) -> None:
    """Serve until interrupted. uvicorn's access log is off: paths may hold /t/<token>/."""
    import uvicorn

    if options.workers > 1:
        _serve_workers(options)
        return
    app = build_app(options.settings)
    log.info("wheelhub hub: serving %s on http://%s:%d/ (pid %d)", options.settings.root,
             options.host, options.port, os.getpid())
    uvicorn.Server(_config(options, app)).run()


def _serve_workers(options: ServeOptions) -> None:
    """*workers* forked processes accepting on one socket; one that dies is replaced."""
    import uvicorn

    build_app(options.settings).hub.storage.close()  # errors first, and the static tree
    sock = socket.create_server((options.host, options.port), backlog=2048)
    stopping = False

    def start() -> int:
        pid = os.fork()
        if pid == 0:  # the worker: its own storage and pool, opened after the fork
            code = 0
            try:
                app = build_app(options.settings, rebuild=False)
                uvicorn.Server(_config(options, app)).run(sockets=[sock])
            except BaseException:
                log.exception("worker %d failed", os.getpid())
                code = 1
            os._exit(code)
        return pid

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    children = {start() for _ in range(options.workers)}
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("wheelhub hub: serving %s on http://%s:%d/ with %d workers (pid %d)",
             options.settings.root, options.host, options.port, options.workers, os.getpid())
    while children:
        pid, status = os.wait()
        children.discard(pid)
        if not stopping:
            log.warning("worker %d exited (status %d); starting another", pid, status)
            children.add(start())
    sock.close()
