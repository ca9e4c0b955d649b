"""Debian's nginx running ``deploy/nginx.conf`` for tests and the benchmark: the shipped
file with only its marked lines (listen, static dir, access log, upstream servers) set."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.support.processes import free_port, running

NGINX = Path("/usr/sbin/nginx")
DEPLOY_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"


def render(static: Path, upstreams: Sequence[str], port: int, access_log: Path) -> str:
    """``deploy/nginx.conf`` for *static* and hub instances at *upstreams* (host:port):
    the first argument of each marked line set, the rest of the line kept."""
    text = DEPLOY_CONF.read_text()
    marked = {"listen": [f"127.0.0.1:{port}"], "static dir": [str(static)],
              "access log": [str(access_log)], "one line per hub instance": list(upstreams)}
    for marker, values in marked.items():
        pattern = rf"^(\s*)(\w+) [^\s;]+([^\n]*?;)[^\n]*# wheelhub: {marker}[^\n]*$"

        def lines(match: re.Match[str], values: list[str] = values) -> str:
            indent, directive, rest = match.groups()
            return "\n".join(f"{indent}{directive} {value}{rest}" for value in values)

        text, count = re.subn(pattern, lines, text, flags=re.M)
        assert count == 1, f"deploy/nginx.conf has no line marked '# wheelhub: {marker}'"
    return text


def write_conf(workdir: Path, site: str, *, workers: int = 1) -> Path:
    """A main nginx.conf around *site* (what /etc/nginx/nginx.conf does), all paths
    under *workdir*."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "wheelhub.conf").write_text(site)
    temps = "\n".join(f"    {kind}_temp_path {workdir}/{kind}-temp;"
                      for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = workdir / "nginx.conf"
    conf.write_text(f"""
daemon off;
user root;
worker_processes {workers};
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    sendfile on;
    keepalive_requests 1000000;
{temps}
    include {workdir}/wheelhub.conf;
}}
""")
    return conf


@contextlib.contextmanager
def running_nginx(static: Path, upstreams: Sequence[str], workdir: Path, *,
                  workers: int = 1) -> Iterator[str]:
    """nginx with ``deploy/nginx.conf`` on a free loopback port; yields its base URL."""
    port = free_port()
    conf = write_conf(workdir, render(static, upstreams, port, workdir / "access.log"),
                      workers=workers)
    base = f"http://127.0.0.1:{port}"
    with running([str(NGINX), "-c", str(conf), "-p", str(workdir)], f"{base}/_health",
                 log=workdir / "nginx.out"):
        yield base
