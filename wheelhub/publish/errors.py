"""Errors of ``wheelhub publish``: labels, the wheelhouse to publish, the target."""

from __future__ import annotations

from collections.abc import Sequence

from wheelhub.errors import UsageError, WheelhouseInputError, WheelhubError


class LabelError(UsageError):
    """No usable label: invalid name, or no branch to derive one from."""

    @classmethod
    def invalid(cls, label: str, rule: str) -> LabelError:
        return cls(f"label '{label}' is not valid", hint=rule)

    @classmethod
    def unusable(cls, ref: str, result: str) -> LabelError:
        return cls(f"branch or tag '{ref}' gives no valid label (sanitized: '{result}')",
                   hint="pass --label NAME, or map the branch in wheelhub.yaml (labels: map:)")

    @classmethod
    def detached(cls, cwd: str) -> LabelError:
        return cls(f"{cwd} is a detached HEAD and no CI branch variable is set, "
                   "so there is no branch to name the label after",
                   hint="pass --label NAME (for example --label main), or check out a branch")

    @classmethod
    def no_branch(cls, cwd: str, detail: str) -> LabelError:
        return cls(f"cannot tell the git branch of {cwd} ({detail})",
                   hint="run inside a git checkout, or pass --label NAME")


class PublishInputError(WheelhouseInputError):
    """The wheelhouse cannot be published as it is; nothing was uploaded."""

    verb = "publish"

    @classmethod
    def not_a_wheel(cls, path: str, names: Sequence[str]) -> PublishInputError:
        listed = ", ".join(f"'{n}'" for n in names)
        return cls(f"wheelhouse '{path}' holds files that are not wheels: {listed}",
                   hint="remove them (publish uploads only .whl files the build recorded)")

    @classmethod
    def not_in_manifest(cls, path: str, names: Sequence[str]) -> PublishInputError:
        listed = ", ".join(f"'{n}'" for n in names)
        return cls(f"wheels in '{path}' that the build manifest does not know: {listed}",
                   hint="rebuild with `wheelhub build`, or remove the stray wheels")

    @classmethod
    def changed(cls, filename: str) -> PublishInputError:
        return cls(f"'{filename}' differs from what the build recorded (sha256 mismatch)",
                   hint="rebuild it with `wheelhub build --force`; nothing was uploaded")

    @classmethod
    def nothing_good(cls, path: str, untested: int, failed: int) -> PublishInputError:
        parts = []
        if untested:
            parts.append(f"{untested} untested")
        if failed:
            parts.append(f"{failed} failed or from failed builds")
        return cls(f"no publishable wheels in '{path}' ({', '.join(parts) or 'none built'})",
                   hint="run `wheelhub test`, or pass --allow-untested to publish untested wheels"
                   if untested else "fix the failed builds and build again")


class TargetError(WheelhubError):
    """The publish target cannot be used (unreachable, not an index, refused the token)."""

    exit_code = 3

    @classmethod
    def unreachable(cls, url: str, detail: str) -> TargetError:
        return cls(f"cannot reach the index at {url} ({detail})",
                   hint="check --to and that the server is running; nothing was uploaded")

    @classmethod
    def bad_url(cls, to: str, why: str) -> TargetError:
        return cls(f"--to '{to}' is not usable: {why}",
                   hint="use http(s)://host/owner, https://pypi.anaconda.org/OWNER or file:///DIR",
                   exit_code=2)

    @classmethod
    def unexpected(cls, url: str, status: int, detail: str) -> TargetError:
        return cls(f"the index at {url} answered HTTP {status} ({detail})",
                   hint="check --to; nothing was uploaded")

    @classmethod
    def missing_client(cls, package: str, extra: str) -> TargetError:
        return cls(f"publishing there needs the '{package}' package, which is not installed",
                   hint=f"pip install 'wheelhub[{extra}]'", exit_code=2)


class TargetAuthError(TargetError):
    """401/403: says which variable the token came from, never its value."""

    @classmethod
    def rejected(cls, url: str, status: int, variable: str, had_token: bool) -> TargetAuthError:
        what = "refused the token" if had_token else "needs a token"
        source = (f"from ${variable} (value masked)" if had_token
                  else f"(${variable} is not set)")
        meaning = "unauthorized" if status == 401 else "forbidden"
        return cls(f"the index at {url} {what} {source}: HTTP {status} {meaning}",
                   hint=f"set {variable} to a token allowed to upload to this label "
                   "(or choose another variable with --token-env); nothing was uploaded")
