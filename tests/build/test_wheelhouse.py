"""The wheelhouse after a killed run: partial writes are removed, finished wheels stay."""

from __future__ import annotations

from pathlib import Path

from wheelhub.build.wheelhouse import remove_partial_files
from wheelhub.util.fileio import atomic_writer


def test_partial_files_of_a_killed_write_are_removed_and_wheels_kept(tmp_path: Path) -> None:
    wheel = tmp_path / "a-1.0-py3-none-any.whl"
    with atomic_writer(wheel) as handle:
        handle.write(b"whole")
    # What atomic_writer leaves when the process is SIGKILLed mid-write.
    partial = tmp_path / ".b-1.0-py3-none-any.whl.k3x9q1.tmp"
    partial.write_bytes(b"half")
    assert remove_partial_files(tmp_path) == [partial.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == [wheel.name]
    assert wheel.read_bytes() == b"whole"
