"""Distribution files: filenames, and core metadata read from uploads and from our own wheels."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.support.dists import make_sdist, make_wheel
from wheelhub.index.dists import parse_dist_filename, read_core_metadata, wheel_metadata
from wheelhub.index.errors import InvalidDistribution


@pytest.mark.parametrize("name", ["../etc/passwd.whl", "a/b-1.0-py3-none-any.whl",
                                  "/abs-1.0-py3-none-any.whl", "x\x00-1.0-py3-none-any.whl",
                                  "pkg-1.0-py3-none-any.exe", "", "..", "pkg.whl"])
def test_bad_filenames_are_rejected(name: str) -> None:
    with pytest.raises(InvalidDistribution):
        parse_dist_filename(name)


def test_wheel_filename_parses_tags() -> None:
    dist = parse_dist_filename("Tiny_Pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl")
    assert (dist.project, str(dist.version), dist.kind) == ("tiny-pkg", "1.0", "bdist_wheel")
    assert dist.python_tags == ("cp311",)
    assert dist.platform_tags == ("manylinux_2_17_x86_64",)


def test_metadata_is_extracted_from_wheels_and_sdists(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "Tiny-Pkg", "1.0", requires_python=">=3.9")
    meta = read_core_metadata(wheel.read_bytes(), parse_dist_filename(wheel.name),
                              max_unpacked=10**8)
    assert (meta.name, meta.version, meta.requires_python) == ("Tiny-Pkg", "1.0", ">=3.9")
    assert wheel_metadata(wheel) == meta  # our own wheels read the same, unchecked
    sdist = make_sdist(tmp_path, "tiny-pkg", "2.0")
    meta = read_core_metadata(sdist.read_bytes(), parse_dist_filename(sdist.name),
                              max_unpacked=10**8)
    assert meta.version == "2.0"


def test_metadata_name_must_match_filename(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "tiny-pkg", "1.0", metadata_name="other-pkg")
    with pytest.raises(InvalidDistribution, match="does not match"):
        read_core_metadata(wheel.read_bytes(), parse_dist_filename(wheel.name),
                           max_unpacked=10**8)
    with pytest.raises(InvalidDistribution, match="does not match"):
        wheel_metadata(wheel)


def test_not_a_zip_and_zip_bomb_are_refused(tmp_path: Path) -> None:
    dist = parse_dist_filename("tiny_pkg-1.0-py3-none-any.whl")
    with pytest.raises(InvalidDistribution, match="zip"):
        read_core_metadata(b"this is not a zip", dist, max_unpacked=10**8)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("tiny_pkg-1.0.dist-info/METADATA",
                         "Metadata-Version: 2.1\nName: tiny-pkg\nVersion: 1.0\n\n")
        archive.writestr("tiny_pkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
        archive.writestr("bomb.bin", b"\0" * (50 * 1024 * 1024))
    with pytest.raises(InvalidDistribution, match="zip bomb"):
        read_core_metadata(buffer.getvalue(), dist, max_unpacked=10 * 1024 * 1024)


def test_a_wheel_without_metadata_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / "tiny_pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("tiny_pkg/__init__.py", "")
    with pytest.raises(InvalidDistribution, match=r"no single top-level \*\.dist-info/METADATA"):
        wheel_metadata(wheel)
