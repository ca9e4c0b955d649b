"""Where builds run: a Docker container per Python prefix, or the host itself.

Both engines hand out :class:`~wheelhub.engines.base.Session` objects with the same
small surface (run a command, copy files in and out), so the build steps do not know
which one they drive.
"""

from __future__ import annotations

from wheelhub.engines.base import Engine
from wheelhub.options import BuildOptions


def make_engine(options: BuildOptions) -> Engine:
    if options.engine == "host":
        from wheelhub.engines.host import HostEngine

        return HostEngine(options)
    from wheelhub.engines.docker import DockerEngine

    return DockerEngine(options)
