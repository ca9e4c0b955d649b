"""Builds in containers, one per Python prefix, started from the build image or from
a prepared snapshot of an earlier run (setup hook and build requirements applied)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from wheelhub.engines.base import COMPILERS, ImageInfo, Paths
from wheelhub.engines.oci import Containers, ContainerSession
from wheelhub.engines.pythons import PythonPrefix, prefixes_from_listing
from wheelhub.engines.spec import ContainerSpec, Mount, OCIEngineConfig
from wheelhub.options import BuildOptions
from wheelhub.util.fileio import atomic_write_bytes, ensure_dir
from wheelhub.util.log import get_logger

logger = get_logger("containers")

LABEL = "org.wheelhub.build.run"
CA_BUNDLE = "/wheelhub/ca-bundle.crt"
CONTAINER_PATHS = Paths(project="/project", workspace="/wheelhub/work",
                        wheelhouse="/wheelhub/wheelhouse", cache="/wheelhub/cache",
                        system_ca_bundles=("/etc/pki/tls/certs/ca-bundle.crt",
                                           "/etc/ssl/certs/ca-certificates.crt"))


USED_DIR = "prepared-used"  # in the cache dir: one empty file per snapshot, mtime = last use


def mark_used(cache_dir: Path, key: str) -> None:
    """Record that the snapshot *key* is used now: the engine keeps no last-use time, and
    ``wheelhub cache prune`` removes the least recently used first."""
    with contextlib.suppress(OSError):
        ensure_dir(cache_dir / USED_DIR)
        (cache_dir / USED_DIR / key[:40]).touch()


class ContainerEngine:
    """The :class:`~wheelhub.engines.base.Engine` of builds in containers."""

    def __init__(self, options: BuildOptions, oci: OCIEngineConfig) -> None:
        self.options = options
        self.containers = Containers(oci)
        self.paths = CONTAINER_PATHS
        if options.ca_bundle is not None:
            self.paths = replace(CONTAINER_PATHS, ca_bundle=CA_BUNDLE)

    @property
    def oci(self) -> OCIEngineConfig:
        return self.containers.engine

    def inspect(self) -> ImageInfo:
        """Image id, environment, Python prefixes and C/C++ compilers; the listing is cached
        per image id."""
        image = self.containers.image(self.options.image)
        cache_file = self.options.cache_dir / "images" / (image.id.replace(":", "-") + ".json")
        listing: dict[str, list[str]] | None = None
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            data = json.loads(cache_file.read_text())
            listing = {"python": list(data["python"]), "compilers": list(data["compilers"])}
        if listing is None:
            python, _, compilers = self.containers.output(image.id, ["sh", "-c", (
                "ls -1 /opt/python 2>/dev/null; echo ::compilers::; "
                f"for c in {' '.join(COMPILERS)}; do command -v \"$c\" >/dev/null 2>&1 "
                "&& echo \"$c\"; done; true")]).partition("::compilers::")
            listing = {"python": python.split(), "compilers": compilers.split()}
            ensure_dir(cache_file.parent)
            atomic_write_bytes(cache_file, json.dumps(listing).encode())
        return ImageInfo(reference=self.options.image, id=image.id, env=image.env,
                         pythons=tuple(prefixes_from_listing("/opt/python", listing["python"])),
                         compilers=tuple(listing["compilers"]))

    def spec(self, image: str, name: str, kind: str = "build") -> ContainerSpec:
        """A build container: the project, wheelhouse and CA bundle read-only, the cache
        writable and handed back to the invoking user at the end."""
        options = self.options
        ensure_dir(options.cache_dir)
        mounts = [Mount(source=options.project_dir, target=self.paths.project),
                  Mount(source=options.wheelhouse, target=self.paths.wheelhouse),
                  Mount(source=options.cache_dir, target=self.paths.cache, read_only=False)]
        if options.ca_bundle is not None:
            mounts.append(Mount(source=options.ca_bundle, target=CA_BUNDLE))
        return ContainerSpec(image=image, name=name, labels={LABEL: name}, kind=kind,
                             workdir=self.paths.workspace, scratch=self.paths.workspace,
                             mounts=tuple(mounts),
                             network=options.network, keep=options.keep_container,
                             hand_back=(self.paths.cache,), memory=options.memory)

    @contextlib.contextmanager
    def session(self, python: PythonPrefix, *, name: str, prepared_key: str | None = None,
                kind: str = "build", offline: bool = False) -> Iterator[ContainerSession]:
        image, restored_env = self.options.image, None
        prepared = None
        # An offline session (--hermetic) starts from the snapshot a networked session has
        # just prepared, whatever --force says.
        if prepared_key is not None and (offline or not self.options.force):
            prepared = self.containers.prepared(prepared_key)
        if prepared is not None:
            image, restored_env = prepared
            logger.info("starting from the prepared snapshot (hook and build requirements "
                        "already applied)")
        if prepared_key is not None:
            mark_used(self.options.cache_dir, prepared_key)  # made now, or used now
        spec = self.spec(image, name, kind)
        if offline:
            spec = replace(spec, network="none")
        with self.containers.start(spec, python=python, paths=self.paths,
                                   snapshot_key=prepared_key,
                                   restored_env=restored_env) as session:
            yield session

    def cancel(self) -> None:
        self.containers.cancel()
