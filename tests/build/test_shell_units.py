"""`wheelhub shell` without Docker: no terminal, nothing failed, the failed command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wheelhub.build import shell
from wheelhub.build.errors import ShellError

WHEELHUB = str(Path(sys.executable).with_name("wheelhub"))


def test_without_a_terminal_it_says_so_and_exits_2(tmp_path: Path) -> None:
    done = subprocess.run([WHEELHUB, "shell"], cwd=tmp_path, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("error: wheelhub shell needs an interactive terminal")


def test_failed_command_is_the_last_one_the_log_shows(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("+ source /project/build-setup.sh\nok\n+ python -m pip wheel x==1\n"
                   "ERROR: nope\n")
    assert shell.failed_command(log) == "python -m pip wheel x==1"
    assert shell.failed_command(tmp_path / "missing.log") == ""


def test_failed_with_nothing_failed(tmp_path: Path) -> None:
    with pytest.raises(ShellError, match="no failed entry"):
        shell.first_failure(tmp_path)


def test_exec_argv_keeps_values_off_the_command_line() -> None:
    context = shell.ShellContext(container="abc", python="cp311", image="i", image_id="sha256:1",
                                 env={"TOKEN": "s3cret", "A": "1"}, workdir="/wheelhub/work")
    argv = context.exec_argv("/usr/bin/docker")
    assert argv == ["/usr/bin/docker", "exec", "-it", "-w", "/wheelhub/work", "-e", "A",
                    "-e", "TOKEN", "abc", "bash", "--norc", "-i"]
    assert "s3cret" not in " ".join(argv)
