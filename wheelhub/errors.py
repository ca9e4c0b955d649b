"""One exception tree for everything wheelhub reports to a user.

Every error carries an exit code and, where there is one, advice on what to do
next. The CLI prints ``error: <message>`` and ``hint: <hint>``; the library never
prints. Build errors through the factory classmethods so messages stay uniform.
"""

from __future__ import annotations

from collections.abc import Sequence


class WheelhubError(Exception):
    """Base of every error a user should see as one line, not a traceback."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(WheelhubError):
    """Bad input from the user: files, options, selectors. Nothing was done."""

    exit_code = 2


class ConfigError(UsageError):
    """An invalid or unknown configuration value."""

    @classmethod
    def unknown_key(cls, key: str, source: str, known: Sequence[str]) -> ConfigError:
        import difflib

        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(sorted(known))}"
        return cls(f"{source}: unknown option '{key}'", hint=hint)


class RequirementsError(UsageError):
    """One or more malformed lines in requirements files; all are listed at once."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in requirements"
        super().__init__(head + ":\n  " + "\n  ".join(self.problems),
                         hint="fix the lines above; nothing was built")


class EngineError(WheelhubError):
    """The place builds run (Docker daemon, host interpreters) is not usable."""

    exit_code = 2

    @classmethod
    def daemon_unreachable(cls, detail: str) -> EngineError:
        return cls(
            f"cannot reach the Docker daemon ({detail})",
            hint="start it (scripts/ensure-docker.sh, or `sudo systemctl start docker`), "
            "or set DOCKER_HOST; use --engine host inside a manylinux container",
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


class HookError(UsageError):
    @classmethod
    def missing(cls, path: str) -> HookError:
        return cls(f"setup hook '{path}' does not exist",
                   hint="create it, pass --setup PATH, or --setup '' for none")

    @classmethod
    def not_executable(cls, path: str) -> HookError:
        return cls(f"setup hook '{path}' is not a readable file", hint=f"chmod +r {path}")


class WheelhouseError(WheelhubError):
    @classmethod
    def not_writable(cls, path: str, detail: str) -> WheelhouseError:
        return cls(f"wheelhouse '{path}' is not writable ({detail})",
                   hint="choose another directory with -w, or fix its permissions",
                   exit_code=2)


class BuildFailed(WheelhubError):
    """Some packages or prefixes failed; the others' wheels were kept."""

    exit_code = 1


class Interrupted(WheelhubError):
    exit_code = 130
