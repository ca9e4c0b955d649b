"""Errors of the build pipeline and ``wheelhub shell``."""

from __future__ import annotations

import errno
import shutil
from collections.abc import Sequence
from pathlib import Path

from wheelhub.errors import UsageError, WheelhubError, did_you_mean


class RequirementsError(UsageError):
    """One or more malformed lines in requirements files; all are listed at once."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in requirements"
        super().__init__(head + ":\n  " + "\n  ".join(self.problems),
                         hint="fix the lines above; nothing was built")


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


    @classmethod
    def disk_full(cls, path: Path, *, needed: int | None = None,
                  partial_removed: bool = True) -> WheelhouseError:
        try:
            free = f", {_size(shutil.disk_usage(path.parent).free)} free"
        except OSError:
            free = ""
        need = f" (needed {_size(needed)}{free})" if needed else (f" ({free[2:]})" if free else "")
        removed = "; the partial file was removed" if partial_removed else ""
        return cls(f"no space left on device writing {path}{need}{removed}",
                   hint="free space on that filesystem or choose another wheelhouse (-w), then "
                   "run `wheelhub build` again: finished wheels and the manifest were kept, "
                   "so it builds only what is missing", exit_code=1)


DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def _size(size: int) -> str:
    return f"{size / 1024:.0f} KiB" if size < 1024**2 else f"{size / 1024**2:.1f} MiB"


class BuildFailed(WheelhubError):
    """Some packages or prefixes failed; the others' wheels were kept."""

    exit_code = 1


class ShellError(UsageError):
    """`wheelhub shell` cannot open the requested shell; no container was left behind."""

    @classmethod
    def no_tty(cls) -> ShellError:
        return cls("wheelhub shell needs an interactive terminal (stdin and stdout are not a TTY)",
                   hint="run it from a terminal; in scripts use `wheelhub build -v` and its logs")

    @classmethod
    def no_engine_cli(cls, cli: str) -> ShellError:
        return cls(f"wheelhub shell needs the `{cli}` command-line client, which is not on PATH",
                   hint=f"install the {cli} command-line client (for Docker: docker-ce-cli or "
                   "docker.io)")

    @classmethod
    def host_engine(cls) -> ShellError:
        return cls("wheelhub shell opens a build container; --engine host has none",
                   hint="you are already in the build environment: source the setup hook yourself")

    @classmethod
    def nothing_failed(cls, path: str) -> ShellError:
        return cls(f"the last build in '{path}' has no failed entry to reopen",
                   hint="use `wheelhub shell --python TAG [--package NAME]` instead")

    @classmethod
    def unknown_package(cls, name: str, known: Sequence[str]) -> ShellError:
        return cls(f"--package '{name}' is not in the requirements",
                   hint=did_you_mean(name, known, f"requirements: {', '.join(known) or 'none'}"))

    @classmethod
    def one_python(cls, selector: str, matched: Sequence[str]) -> ShellError:
        return cls(f"--python '{selector}' matches {len(matched)} prefixes "
                   f"({', '.join(matched)}); a shell opens one",
                   hint=f"pass one tag, for example --python {matched[0] if matched else 'cp311'}")


class ShardError(UsageError):
    """A shard spec or count that names no shard."""

    @classmethod
    def bad_spec(cls, source: str, text: str) -> ShardError:
        return cls(f"{source} '{text}' is not I/N", hint="for example --shard 2/4 (the second "
                   "of four shards; `wheelhub plan --shards 4` shows them)")

    @classmethod
    def out_of_range(cls, source: str, text: str, count: int) -> ShardError:
        return cls(f"{source} '{text}': there is no such shard",
                   hint=f"I runs from 1 to N and N is at least 1 (here 1..{max(count, 1)})")

    @classmethod
    def bad_count(cls, source: str, count: int) -> ShardError:
        return cls(f"{source} {count}: the number of shards must be at least 1",
                   hint="for example --shards 4")

    @classmethod
    def unknown_projects(cls, spec: str, names: Sequence[str]) -> ShardError:
        return cls(f"--shard '{spec}' names projects not in the requirements: {', '.join(names)}",
                   hint="run `wheelhub plan --shards N --matrix github` again for this checkout")


class HermeticError(UsageError):
    """``--hermetic``: something a build needs could not be fetched on the host first."""

    @classmethod
    def not_pinned(cls, location: str, requirement: str) -> HermeticError:
        return cls(f"{location}: '{requirement}' is not pinned; --hermetic fetches exact "
                   "versions", hint=f"pin it ('{requirement.partition(';')[0].strip()}==X.Y'), "
                   "e.g. with pip-compile, or build without --hermetic")

    @classmethod
    def no_distribution(cls, requirement: str, location: str, pythons: list[str], plat: str,
                        only_binary: str) -> HermeticError:
        why = (f"no wheel for {', '.join(pythons)} on {plat} and {only_binary} forbids the sdist"
               if only_binary else f"no sdist, and no wheel for {', '.join(pythons)} on {plat}")
        return cls(f"{location}: '{requirement}' has {why}",
                   hint="check the name and version on the index, choose another version, "
                   "or drop the Pythons it does not support (--python)")

    @classmethod
    def fetch_failed(cls, what: str, python: str, detail: str) -> HermeticError:
        where = f" for {python}" if python else ""
        return cls(f"could not fetch the {what}{where} on the host: {detail}",
                   hint="a build backend must be on the index as a wheel for that Python; "
                   "pin one that is (requirements-build.txt constrains it), or build "
                   "without --hermetic")

    @classmethod
    def hash_changed(cls, filename: str, locked: str, now: str) -> HermeticError:
        return cls(f"{filename}: the index now serves other bytes than the lock in the "
                   f"manifest (sha256 {locked[:12]}… locked, {now[:12]}… now)",
                   hint="find out why the file changed; to accept the new bytes, remove "
                   "\"lock\" from the wheelhouse's wheelhub-manifest.json")

    @classmethod
    def unreadable_sdist(cls, filename: str, detail: str) -> HermeticError:
        return cls(f"cannot read the build-system of {filename}: {detail}",
                   hint="the sdist is damaged or not a tar archive; check the index")

    @classmethod
    def needs_container(cls, engine: str) -> HermeticError:
        return cls(f"--hermetic needs a container engine to cut the network; engine "
                   f"'{engine}' cannot", hint="use --engine docker or podman")
