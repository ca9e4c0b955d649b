"""The summary tables build and test print: rows per package, columns per Python."""

from __future__ import annotations

from pathlib import Path

from wheelhub.util import table
from wheelhub.verify.report import failure_details, render_table
from wheelhub.verify.results import PackageTest, TestResult


def test_grid_fills_missing_cells_and_sorts() -> None:
    header, rows = table.grid({("b", "cp312"): "ok", ("a", "cp311"): "failed"})
    assert header == ["package", "cp311", "cp312"]
    assert rows == [["a", "failed", "-"], ["b", "-", "ok"]]


def test_render_aligns_columns_under_a_rule() -> None:
    lines = table.render(["package", "cp311"], [["pyyaml", "built"], ["six", "-"]])
    assert lines == ["package  cp311", "-------  -----", "pyyaml   built", "six      -"]


def test_failure_block_keeps_only_the_tail() -> None:
    detail = "pip wheel exited with status 1\n" + "\n".join(f"line {i}" for i in range(30))
    lines = table.failure_block("pyyaml [cp311]", detail, Path("logs/cp311/pyyaml.log"), 3)
    assert lines == ["pyyaml [cp311]: pip wheel exited with status 1 (log: logs/cp311/pyyaml.log)",
                     "    line 27", "    line 28", "    line 29"]


def test_test_table_and_failures(tmp_path: Path) -> None:
    result = TestResult(wheelhouse=tmp_path, results=(
        PackageTest(project="six", python="cp311", status="passed"),
        PackageTest(project="yaml", python="cp311", status="failed",
                    detail="import yaml failed: missing library libyaml-0.so.2\ntrace",
                    log="logs/cp311/yaml.test.log")))
    text = render_table(result)
    assert text.splitlines()[2:4] == ["six      passed", "yaml     failed"]
    assert text.splitlines()[-1].startswith("1 passed, 1 failed, 0 untested")
    assert failure_details(result) == [
        f"yaml [cp311]: import yaml failed: missing library libyaml-0.so.2 "
        f"(log: {tmp_path / 'logs/cp311/yaml.test.log'})", "    trace"]
