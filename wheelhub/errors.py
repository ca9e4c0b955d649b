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


# --- the hub (wheelhub/server) -------------------------------------------------------------


class HubError(WheelhubError):
    """A request to the hub was refused; ``status`` is the HTTP status the server answers."""

    status: int = 400

    def __init__(self, message: str, *, hint: str | None = None, status: int | None = None):
        super().__init__(message, hint=hint)
        if status is not None:
            self.status = status


class HubNotFound(HubError):
    """Unknown owner, label, project or file, or a private one without a valid read token."""

    status = 404

    @classmethod
    def owner(cls, owner: str) -> HubNotFound:
        return cls(f"owner '{owner}' not found",
                   hint=f"create it with `wheelhub owner create {owner}` (or create a token for it)")

    @classmethod
    def label(cls, owner: str, label: str) -> HubNotFound:
        return cls(f"label '{owner}/{label}' not found",
                   hint=f"list labels with `wheelhub label list --owner {owner}`")

    @classmethod
    def thing(cls, what: str) -> HubNotFound:
        return cls(f"{what} not found")


class HubAuthError(HubError):
    """No token, or a wrong, expired or revoked one (HTTP 401)."""

    status = 401

    @classmethod
    def missing(cls) -> HubAuthError:
        return cls("this needs a token",
                   hint="pass it as HTTP basic auth (user __token__) or a /t/<token>/ URL prefix")

    @classmethod
    def invalid(cls) -> HubAuthError:
        return cls("token is invalid, expired or revoked",
                   hint="create a new one with `wheelhub token create`")


class HubForbidden(HubError):
    """A valid token without the needed scope, owner or label glob (HTTP 403)."""

    status = 403

    @classmethod
    def scope(cls, needed: str, have: str) -> HubForbidden:
        return cls(f"token scope '{have}' does not allow this (needs '{needed}')",
                   hint=f"create a token with --scope {needed}")

    @classmethod
    def label(cls, owner: str, label: str, glob: str) -> HubForbidden:
        return cls(f"token is limited to labels '{glob}', not '{owner}/{label}'",
                   hint="use a token whose --label glob matches this label")

    @classmethod
    def owner(cls, owner: str) -> HubForbidden:
        return cls(f"token does not belong to owner '{owner}'",
                   hint=f"create one with `wheelhub token create --owner {owner}`")


class UploadRejected(HubError):
    """The upload is malformed or inconsistent; nothing was stored (HTTP 400)."""

    status = 400

    @classmethod
    def because(cls, filename: str, reason: str) -> UploadRejected:
        return cls(f"upload of '{filename}' rejected: {reason}",
                   hint="nothing was stored; fix the file and upload again")


class UploadConflict(HubError):
    """Same filename, different bytes (HTTP 409)."""

    status = 409

    @classmethod
    def for_file(cls, owner: str, filename: str) -> UploadConflict:
        return cls(f"'{filename}' already exists in '{owner}' with different contents",
                   hint="files are immutable: bump the version (or a build tag) and upload again")


class UploadTooLarge(HubError):
    status = 413

    @classmethod
    def limit(cls, limit: int) -> UploadTooLarge:
        return cls(f"upload exceeds the size limit of {limit} bytes",
                   hint="raise it with `wheelhub serve --max-upload-size`")


class InvalidName(HubError, UsageError):
    """An owner, label or project name that the hub cannot use."""

    status = 400

    @classmethod
    def for_kind(cls, kind: str, name: str, rule: str) -> InvalidName:
        return cls(f"invalid {kind} name '{name}'", hint=f"{kind} names {rule}")


# --- labels and publish (wheelhub/labels.py, wheelhub/publish) -------------------------------


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


class PublishInputError(UsageError):
    """The wheelhouse cannot be published as it is; nothing was uploaded."""

    @classmethod
    def missing_wheelhouse(cls, path: str) -> PublishInputError:
        return cls(f"wheelhouse '{path}' does not exist",
                   hint="run `wheelhub build -w DIR` first, or pass -w DIR")

    @classmethod
    def empty(cls, path: str) -> PublishInputError:
        return cls(f"wheelhouse '{path}' has no wheels to publish",
                   hint="run `wheelhub build` first; publish reads its wheelhub-manifest.json")

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


# --- test and shell (wheelhub/verify.py, wheelhub/shell.py) ---------------------------------


class VerifyInputError(UsageError):
    """`wheelhub test` has nothing to test; nothing was started."""

    @classmethod
    def missing_wheelhouse(cls, path: str) -> VerifyInputError:
        return cls(f"wheelhouse '{path}' does not exist",
                   hint="run `wheelhub build` first, or pass -w DIR")

    @classmethod
    def empty(cls, path: str) -> VerifyInputError:
        return cls(f"wheelhouse '{path}' has no built wheels to test",
                   hint="run `wheelhub build` first; test reads its wheelhub-manifest.json")

    @classmethod
    def no_python(cls, selector: str, built: Sequence[str]) -> VerifyInputError:
        return cls(f"--python '{selector}' matches no Python the wheelhouse was built for "
                   f"(built: {', '.join(built) or 'none'})",
                   hint="use one of the tags listed, or 'all'")


class ShellError(UsageError):
    """`wheelhub shell` cannot open the requested shell; no container was left behind."""

    @classmethod
    def no_tty(cls) -> ShellError:
        return cls("wheelhub shell needs an interactive terminal (stdin and stdout are not a TTY)",
                   hint="run it from a terminal; in scripts use `wheelhub build -v` and its logs")

    @classmethod
    def no_docker_cli(cls) -> ShellError:
        return cls("wheelhub shell needs the `docker` command-line client, which is not on PATH",
                   hint="install the Docker CLI (docker-ce-cli or docker.io)")

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
        import difflib

        close = difflib.get_close_matches(name, known, n=1)
        hint = (f"did you mean '{close[0]}'?" if close
                else f"requirements: {', '.join(known) or 'none'}")
        return cls(f"--package '{name}' is not in the requirements", hint=hint)

    @classmethod
    def one_python(cls, selector: str, matched: Sequence[str]) -> ShellError:
        return cls(f"--python '{selector}' matches {len(matched)} prefixes "
                   f"({', '.join(matched)}); a shell opens one",
                   hint=f"pass one tag, for example --python {matched[0] if matched else 'cp311'}")
