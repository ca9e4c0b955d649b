"""A build log never shows an index URL's credentials: not in the commands wheelhub shows,
nor in what the tools print, nor in the tail a failure report quotes."""

from __future__ import annotations

from pathlib import Path

from wheelhub.build.steps import LogCapture
from wheelhub.engines.base import shell_join


def test_url_credentials_are_masked_in_the_log_and_its_tail(tmp_path: Path) -> None:
    capture = LogCapture(path=tmp_path / "pkg.log")
    command = ["/opt/python/cp311-cp311/bin/python", "-m", "pip", "wheel", "--extra-index-url",
               "https://ci-bot:s3cr3t-t0ken@pkgs.example.com/simple", "pkg==1.0"]
    capture.note(shell_join(command))
    capture("ERROR: 401 Client Error for url: https://ci-bot:s3cr3t-t0ken@pkgs.example.com/x")
    capture.close()
    text = (tmp_path / "pkg.log").read_text()
    assert "s3cr3t-t0ken" not in text and "s3cr3t-t0ken" not in "".join(capture.tail)
    assert "--extra-index-url https://****@pkgs.example.com/simple pkg==1.0" in text
    assert "for url: https://****@pkgs.example.com/x" in capture.tail[-1]
