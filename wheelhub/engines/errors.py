"""Errors of the place builds and tests run: the container engine, the image, its Pythons."""

from __future__ import annotations

from collections.abc import Sequence

from wheelhub.errors import UsageError, WheelhubError


class EngineError(WheelhubError):
    """The place builds run (Docker daemon, host interpreters) is not usable."""

    exit_code = 2

    @classmethod
    def daemon_unreachable(cls, detail: str, *, engine: str = "docker",
                           start_hint: str = "") -> EngineError:
        what = "the Docker daemon" if engine == "docker" else f"the {engine} service"
        hint = start_hint or "start it"
        return cls(f"cannot reach {what} ({detail})",
                   hint=f"{hint}; use --engine host inside a manylinux container")

    @classmethod
    def lost(cls, what: str, detail: str) -> EngineError:
        return cls(
            f"lost the container while {what} ({detail})",
            hint="was the Docker daemon stopped or restarted? Once it answers again, run the "
            "same command: finished entries are kept and only the unfinished ones run",
            exit_code=1,
        )


class ImageNotFound(EngineError):
    @classmethod
    def for_image(cls, image: str, detail: str) -> ImageNotFound:
        return cls(
            f"image '{image}' is not on this machine and could not be pulled ({detail})",
            hint=f"provide it: `docker load -i image.tar`, pull it from a mirror and tag it "
            f"'{image}', build one locally (scripts/build-test-images.sh), or set --image",
        )


class PythonSelectionError(UsageError):
    @classmethod
    def no_match(cls, selector: str, image: str, available: Sequence[str]) -> PythonSelectionError:
        have = ", ".join(available) if available else "none"
        return cls(
            f"--python '{selector}' matches nothing in {image} (it has: {have})",
            hint="use one of the tags listed, 'all', or a glob such as 'cp31*'",
        )
