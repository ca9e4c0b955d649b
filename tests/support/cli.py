"""The ``wheelhub`` CLI in-process, through its real error boundary, output captured."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    @property
    def last_line(self) -> str:
        lines = self.out.strip().splitlines()
        return lines[-1] if lines else ""


CliRunner = Callable[..., CliResult]


def cli_runner(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
               workdir: Path, commands: Sequence[str]) -> CliRunner:
    """``run(*argv, env=..., cwd=...)`` runs ``wheelhub`` with only the *commands* modules
    loaded, in *workdir* unless told (away from the repository's own wheelhub.yaml)."""
    import wheelhub.cli as cli_mod

    monkeypatch.setattr(cli_mod, "COMMAND_MODULES", tuple(commands))

    def run(*argv: str, env: Mapping[str, str] | None = None,
            cwd: Path | None = None) -> CliResult:
        with monkeypatch.context() as patch:
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            patch.chdir(cwd if cwd is not None else workdir)
            capsys.readouterr()
            try:
                code = cli_mod.main(list(argv))
            finally:
                # main() points the wheelhub logger at this test's captured stderr
                root = logging.getLogger("wheelhub")
                for handler in list(root.handlers):
                    root.removeHandler(handler)
                root.propagate = True
            captured = capsys.readouterr()
        return CliResult(code=code, out=captured.out, err=captured.err)

    return run
