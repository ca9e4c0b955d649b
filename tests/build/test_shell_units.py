"""`wheelhub shell` without Docker: no terminal, no container engine or client, nothing
failed, the failed command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wheelhub.build import shell
from wheelhub.build.errors import ShellError
from wheelhub.options import BuildOptions

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



def shell_options(tmp_path: Path, engine: str) -> BuildOptions:
    (tmp_path / "requirements.txt").write_text("six\n")
    return BuildOptions(project_dir=tmp_path, requirements=tmp_path / "requirements.txt",
                        build_requirements=None, setup=None, python="all", image="builder:1",
                        engine=engine, jobs=1, wheelhouse=tmp_path / "wheelhouse", network=None,
                        ca_bundle=None, cache_dir=tmp_path / "cache")


def test_host_engine_has_no_container_to_open(tmp_path: Path) -> None:
    with pytest.raises(ShellError, match="--engine host has none"), \
            shell.open_shell(shell_options(tmp_path, "host"), shell.ShellRequest()):
        pass


def test_without_the_engine_client_nothing_starts(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ShellError, match="`docker` command-line client"), \
            shell.open_shell(shell_options(tmp_path, "docker"), shell.ShellRequest()):
        pass
    assert not (tmp_path / "wheelhouse").exists()
