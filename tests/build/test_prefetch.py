"""--hermetic's host side without containers: platform tags, build backends, and reading
what a failed build tried to fetch."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from tests.conftest import make_sdist
from tests.support.dists import make_wheel
from wheelhub.build.errors import HermeticError
from wheelhub.build.prefetch import Prefetch, build_requires, platform_tags
from wheelhub.build.requirements import parse_requirements
from wheelhub.build.steps import network_attempt
from wheelhub.engines.pythons import PythonPrefix
from wheelhub.manifest import LockedFile


def test_platform_tags_accept_every_older_glibc_and_the_legacy_aliases() -> None:
    tags = platform_tags("manylinux_2_28_x86_64")
    assert tags[0] == "manylinux_2_28_x86_64"
    assert {"manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux2010_x86_64",
            "manylinux1_x86_64", "manylinux_2_5_x86_64"} <= set(tags)
    assert "manylinux_2_29_x86_64" not in tags
    assert platform_tags("manylinux2014_aarch64")[0] == "manylinux_2_17_aarch64"
    assert platform_tags("musllinux_1_2_x86_64") == ["musllinux_1_2_x86_64"]


def sdist(path: Path, pyproject: str | None) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        files = {"pkg-1.0/setup.py": "from setuptools import setup; setup()\n"}
        if pyproject is not None:
            files["pkg-1.0/pyproject.toml"] = pyproject
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_build_requires_come_from_pyproject_else_pep517s_default(tmp_path: Path) -> None:
    hatch = sdist(tmp_path / "a.tar.gz", '[build-system]\nrequires = ["hatchling>=1.20"]\n')
    assert build_requires(hatch) == ("hatchling>=1.20",)
    legacy = sdist(tmp_path / "b.tar.gz", None)
    # setuptools before 70.1 asks for wheel on its own: it is fetched beside it.
    assert build_requires(legacy) == ("setuptools>=40.8.0", "wheel")
    cython = sdist(tmp_path / "c.tar.gz",
                   '[build-system]\nrequires = ["setuptools>=68", "Cython<4"]\n')
    assert build_requires(cython) == ("setuptools>=68", "Cython<4", "wheel")


def test_an_unreadable_sdist_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "pkg-1.0.tar.gz"
    broken.write_bytes(b"not a tarball")
    with pytest.raises(HermeticError, match="pkg-1.0.tar.gz"):
        build_requires(broken)


def test_network_attempts_are_read_from_the_output() -> None:
    pip = ["ERROR: Could not find a version that satisfies the requirement cython>=3 (from "
           "versions: none)", "ERROR: No matching distribution found for cython>=3"]
    assert network_attempt(pip) == ("fetch 'cython>=3' from the package index (it was not "
                                    "prefetched)")
    log = ["downloading https://example.org/data.tar.gz", "running build"]
    tail = ["urllib.error.URLError: <urlopen error [Errno -3] Temporary failure in name "
            "resolution>"]
    assert network_attempt(tail, log) == "fetch https://example.org/data.tar.gz"
    assert network_attempt(["curl: (6) Could not resolve host: example.org"]) == (
        "reach the network")
    # A compiler error that mentions a URL is not a network attempt.
    assert network_attempt(["error: see https://gcc.gnu.org/bugs/", "exit status 1"]) is None


def test_other_bytes_than_the_lock_are_refused(tmp_path: Path) -> None:
    (tmp_path / "dists").mkdir()
    make_sdist("whfix-pure", tmp_path / "dists")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("--find-links ./dists\nwhfix-pure==1.0\n")
    locked = LockedFile(filename="whfix-pure-1.0.tar.gz", sha256="0" * 64, need="whfix-pure==1.0")
    prefetch = Prefetch(requirements=parse_requirements(requirements), build_requirements=None,
                        pythons=[PythonPrefix(tag="cp311", path="/opt/python/cp311-cp311")],
                        plat="manylinux_2_28_x86_64", cache_dir=tmp_path / "cache",
                        ca_bundle=Path("/etc/ssl/certs/ca-certificates.crt"), locked=[locked])
    with pytest.raises(HermeticError, match=r"whfix-pure-1.0.tar.gz: the index now serves other"):
        prefetch.run()
    assert not (tmp_path / "cache" / "hermetic" / "files" / "whfix-pure-1.0.tar.gz").exists()


def prefetch_of(tmp_path: Path, text: str) -> Prefetch:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(text)
    return Prefetch(requirements=parse_requirements(requirements), build_requirements=None,
                    pythons=[PythonPrefix(tag="cp311", path="/opt/python/cp311-cp311")],
                    plat="manylinux_2_28_x86_64", cache_dir=tmp_path / "cache",
                    ca_bundle=Path("/etc/ssl/certs/ca-certificates.crt"), frontend="pip")


def test_the_requirements_files_only_binary_is_the_builds(tmp_path: Path) -> None:
    """pip would refuse the sdist the build would need: said before any container."""
    (tmp_path / "dists").mkdir()
    make_sdist("whfix-pure", tmp_path / "dists")
    prefetch = prefetch_of(tmp_path, "--find-links ./dists\n--only-binary whfix-pure\n"
                           "whfix-pure==1.0\n")
    with pytest.raises(HermeticError, match="--only-binary"):
        prefetch.run()


def test_the_requirements_files_no_binary_fetches_the_sdist_not_the_wheel(
        tmp_path: Path) -> None:
    (tmp_path / "dists").mkdir()
    make_sdist("whfix-pure", tmp_path / "dists")
    make_wheel(tmp_path / "dists", "whfix-pure", "1.0")
    fetched = prefetch_of(tmp_path, "--find-links ./dists\n--no-binary whfix-pure\n"
                          "whfix-pure==1.0\n").run()
    names = {f.filename for f in fetched.lock if f.filename}
    assert "whfix-pure-1.0.tar.gz" in names
    assert "whfix_pure-1.0-py3-none-any.whl" not in names
