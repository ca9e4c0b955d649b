"""`wheelhub test` without Docker: input errors, module discovery, library names, the
runtime container, verdicts in the manifest."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from wheelhub.manifest import Entry, Manifest, ManifestWriter
from wheelhub.manifest import TestRecord as Verdict  # not collected as a test class
from wheelhub.options import TestOptions
from wheelhub.verify import run as verify
from wheelhub.verify.errors import VerifyInputError

WHEELHUB = str(Path(sys.executable).with_name("wheelhub"))


def make_wheel(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


@pytest.mark.parametrize("setup", ["missing", "empty"])
def test_nothing_to_test_is_one_line_and_exit_2(tmp_path: Path, setup: str) -> None:
    if setup == "empty":
        (tmp_path / "wheelhouse").mkdir()
    done = subprocess.run([WHEELHUB, "test"], cwd=tmp_path, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("error: wheelhouse '") and lines[0].endswith(
        "does not exist" if setup == "missing" else "has no built wheels to test")
    assert lines[1].startswith("hint: run `wheelhub build` first")
    assert len(lines) == 2


def test_top_level_from_top_level_txt(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "a-1-py3-none-any.whl", {
        "a/__init__.py": "", "a-1.dist-info/top_level.txt": "a\n_a_speedups\nns/sub\n"})
    assert verify.top_level_modules(wheel) == ["_a_speedups", "a", "ns.sub"]


def test_top_level_from_the_file_list(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "b-1-cp311-cp311-manylinux_2_28_x86_64.whl", {
        "b/__init__.py": "", "b/_c.cpython-311-x86_64-linux-gnu.so": "",
        "b.libs/libyaml-0-1a2b.so.2": "", "single.py": "",
        "_ext.cpython-311-x86_64-linux-gnu.so": "", "b-1.data/scripts/tool": "",
        "b-1.dist-info/RECORD": ""})
    assert verify.top_level_modules(wheel) == ["_ext", "b", "single"]


def test_missing_library_is_named() -> None:
    trace = ("Traceback (most recent call last):\n  ...\nImportError: libyaml-0.so.2: "
             "cannot open shared object file: No such file or directory")
    assert verify.missing_library(trace) == "libyaml-0.so.2"
    assert verify.missing_library("ModuleNotFoundError: No module named 'x'") is None


def test_runtime_image_template_or_layout() -> None:
    assert verify.runtime_for("python:{version}-slim", "cp312") == ("python:3.12-slim", "python")
    assert verify.runtime_for("registry/runtime:1", "cp311") == ("registry/runtime:1", None)
    with pytest.raises(VerifyInputError, match="pp310"):
        verify.runtime_for("python:{version}-slim", "pp310")


def test_runtime_container_has_no_network_and_read_only_inputs(tmp_path: Path) -> None:
    options = TestOptions(wheelhouse=tmp_path / "wheelhouse", project_dir=tmp_path,
                          memory=512 * 1024**2)
    args = verify.runtime_spec(options, "sha256:abc", "cp311").create_args("x")
    assert args["network_mode"] == "none"
    assert args["image"] == "sha256:abc"
    assert args["labels"] == {"org.wheelhub.test": "cp311", "org.wheelhub.kind": "test",
                              "org.wheelhub.keep": "0"}
    assert args["mem_limit"] == args["memswap_limit"] == 512 * 1024**2
    assert {(m["Source"], m["ReadOnly"]) for m in args["mounts"]} == {
        (str(tmp_path / "wheelhouse"), True), (str(tmp_path), True)}


def test_verdicts_are_on_disk_as_they_arrive(tmp_path: Path) -> None:
    built = Entry(requirement="a==1", project="a", python="cp311", key="k", status="built")
    writer = ManifestWriter(Manifest(entries=(built,)), tmp_path)
    verdict = Verdict(status="failed", detail="import a failed")
    writer.update(lambda manifest: manifest.with_test("a", "cp311", verdict))
    saved = Manifest.load(tmp_path).find("a", "cp311")
    assert saved is not None and saved.test == verdict
    writer.update(lambda manifest: manifest.with_test("b", "cp311", verdict))
    assert Manifest.load(tmp_path).entries == (replace(built, test=verdict),)
