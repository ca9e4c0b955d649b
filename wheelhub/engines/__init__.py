"""Where builds run: a container per Python prefix, or the host itself.

Both engines hand out :class:`~wheelhub.engines.base.Session` objects with the same
small surface (run a command, copy files in and out), so the build steps do not know
which one they drive. Every container (build, test, shell) is started by
:mod:`wheelhub.engines.oci` from a :class:`~wheelhub.engines.spec.ContainerSpec`;
which container engine that is, is data (:data:`~wheelhub.engines.spec.OCI_ENGINES`).
"""

from __future__ import annotations

from wheelhub.engines.base import Engine
from wheelhub.engines.container import ContainerEngine
from wheelhub.engines.host import HostEngine
from wheelhub.engines.spec import OCI_ENGINES
from wheelhub.options import BuildOptions


def make_engine(options: BuildOptions) -> Engine:
    engine = container_engine(options)
    return engine if engine is not None else HostEngine(options)


def container_engine(options: BuildOptions) -> ContainerEngine | None:
    """The engine when builds run in containers; None when they run on the host."""
    oci = OCI_ENGINES.get(options.engine)
    if oci is None:
        return None
    return ContainerEngine(options, oci)
