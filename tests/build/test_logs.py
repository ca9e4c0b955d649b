"""A build log never shows an index URL's credentials: not in the commands wheelhub shows,
nor in what the tools print, nor in the tail a failure report quotes."""

from __future__ import annotations

from pathlib import Path

from wheelhub.build.steps import LogCapture, uv_stopped_before_the_backend
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


# What uv 0.13.9 prints when the build backend fails, and when it never got to run it.
BACKEND_FAILED = """\
Building wheel from source distribution...
whfix-broken: this package fails to build on purpose
error: Failed to build `/wheelhub/cache/sdists/97e5364c1f7b8e9a/whfix-broken-1.0.tar.gz`
  cause: The build backend returned an error
  cause: Call to `setuptools.build_meta:__legacy__.get_requires_for_build_wheel` failed (exit status: 1)
""".splitlines()
NO_ENVIRONMENT = """\
Building wheel from source distribution...
error: Failed to build `/tmp/pkg-1.0.tar.gz`
  cause: Failed to resolve requirements from `build-system.requires`
  cause: No solution found when resolving: `whfix-no-such-backend>=1`
""".splitlines()


def test_pip_gets_the_sdist_only_when_uv_never_ran_the_backend() -> None:
    assert not uv_stopped_before_the_backend("uv build exited with status 2", BACKEND_FAILED)
    assert uv_stopped_before_the_backend("uv build exited with status 2", NO_ENVIRONMENT)
    killed = "uv build killed (out of memory?) with status 137: the compiler ..."
    assert not uv_stopped_before_the_backend(killed, NO_ENVIRONMENT)
    full = "uv build ran out of disk space (No space left on device, status 2): ..."
    assert not uv_stopped_before_the_backend(full, NO_ENVIRONMENT)
