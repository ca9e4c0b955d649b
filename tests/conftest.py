"""Shared fixtures: the local Docker images and fixture packages as sdists."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
PACKAGES = FIXTURES / "packages"
BUILDER_IMAGE = os.environ.get("WHEELHUB_TEST_BUILDER_IMAGE", "wheelhub-local/builder:bookworm")
# A setup hook that installs the library whfix-clib links against (the builder lacks it).
LIBYAML_HOOK = """\
if ! [ -f /usr/include/yaml.h ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libyaml-dev >/dev/null
fi
"""
RUNTIME_IMAGE = os.environ.get("WHEELHUB_TEST_RUNTIME_IMAGE", "wheelhub-local/runtime:bookworm")


def make_sdist(name: str, dest: Path, *, version: str = "1.0") -> Path:
    """Pack tests/fixtures/packages/<name> as ``<name>-<version>.tar.gz`` in *dest*."""
    source = PACKAGES / name
    top = f"{name}-{version}"
    target = dest / f"{top}.tar.gz"
    with tarfile.open(target, "w:gz") as archive:
        for path in sorted(source.rglob("*")):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            data = path.read_bytes()
            if path.name == "VERSION":
                data = f"{version}\n".encode()
            info = tarfile.TarInfo(f"{top}/{path.relative_to(source)}")
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
        pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        info = tarfile.TarInfo(f"{top}/PKG-INFO")
        info.size = len(pkg_info)
        archive.addfile(info, io.BytesIO(pkg_info))
    return target


def connect_engine(engine: str = "docker") -> Any:
    """A client of *engine* (docker, podman) that has the local test images; else the test
    fails saying which script provides them."""
    import docker

    from wheelhub.engines.spec import OCI_ENGINES

    url = OCI_ENGINES[engine].url({})
    script = "build-test-images.sh" if engine == "docker" else f"ensure-{engine}.sh"
    try:
        client = docker.DockerClient(base_url=url) if url else docker.from_env()
        client.ping()
    except docker.errors.DockerException as error:
        pytest.fail(f"{engine} engine unreachable ({error}): run scripts/ensure-{engine}.sh, "
                    f"or deselect with -m 'not {engine}'")
    for image in (BUILDER_IMAGE, RUNTIME_IMAGE):
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            pytest.fail(f"test image {image} missing on {engine}: run scripts/{script}")
    return client


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    client = connect_engine("docker")
    yield client
    client.close()
