"""anaconda.org through anaconda-client's library (``binstar_client``), files under ``--label``.

``--to https://pypi.anaconda.org/OWNER`` (or ``https://anaconda.org/OWNER``). The token comes
from ``$ANACONDA_TOKEN`` (or ``--token-env``) and is handed to ``get_server_api(token=...)``,
never put on a command line. anaconda.org cannot be reached from wheelhub's test machines:
the tests check this module at its boundary, with a recording stand-in for the API object.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Sequence
from email.parser import HeaderParser
from typing import Any

from wheelhub.publish.errors import TargetAuthError, TargetError
from wheelhub.publish.index import short_error
from wheelhub.publish.model import Candidate
from wheelhub.publish.target import Listing, UploadFailedError
from wheelhub.util.log import get_logger

log = get_logger("publish")

ANACONDA_HOSTS = frozenset({"pypi.anaconda.org", "anaconda.org", "api.anaconda.org"})
ApiFactory = Callable[[str | None], Any]


def default_api(token: str | None) -> Any:
    try:
        from binstar_client.utils import get_server_api
    except ImportError:
        raise TargetError.missing_client("anaconda-client", "anaconda") from None
    return get_server_api(token=token)


def _errors() -> tuple[type[Exception], type[Exception], type[Exception], type[Exception]]:
    """(Unauthorized, NotFound, Conflict, ServerError) from binstar_client, or stand-ins."""
    try:
        from binstar_client import errors
    except ImportError:  # the boundary tests' fake API raises these names from its own module
        class _NeverRaisedError(Exception):
            pass
        never = _NeverRaisedError
        return never, never, never, never
    return errors.Unauthorized, errors.NotFound, errors.Conflict, errors.ServerError


def _summary(candidate: Candidate) -> tuple[str, str]:
    with zipfile.ZipFile(candidate.path) as archive:
        name = next(n for n in archive.namelist()
                    if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
        headers = HeaderParser().parsestr(archive.read(name).decode("utf-8", "replace"))
    return str(headers.get("Summary") or candidate.project), str(headers.get("License") or "")


class AnacondaTarget:
    kind = "anaconda"

    def __init__(self, *, owner: str, label: str, token: str | None, token_env: str,
                 api_factory: ApiFactory | None = None) -> None:
        self.owner = owner
        self.label = label
        self.description = f"anaconda.org/{owner} (label {label})"
        self.notes: tuple[str, ...] = ()
        self._token_env = token_env
        self._had_token = bool(token)
        self._api = (api_factory or default_api)(token)
        self._unauthorized, self._not_found, self._conflict, self._server = _errors()

    def _call(self, what: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One API call with its errors mapped; NotFound is returned to the caller as None."""
        import requests

        try:
            return function(*args, **kwargs)
        except self._unauthorized:
            raise TargetAuthError.rejected(f"anaconda.org/{self.owner}", 401, self._token_env,
                                           self._had_token) from None
        except self._not_found:
            return None
        except self._conflict as error:
            raise UploadFailedError(f"{what}: conflict ({error})", conflict=True, status=409) \
                from None
        except (self._server, requests.ConnectionError, requests.Timeout) as error:
            raise UploadFailedError(f"{what}: {short_error(error)}", transient=True) from None

    def existing(self, projects: Iterable[str]) -> Listing:
        found: dict[str, str] = {}
        for project in sorted(set(projects)):
            try:
                package = self._call("read package", self._api.package, self.owner, project)
            except UploadFailedError as failure:
                raise TargetError.unreachable(f"anaconda.org/{self.owner}", failure.message) \
                    from None
            for entry in (package or {}).get("files", ()):
                if self.label in entry.get("labels", ()):
                    found[entry["basename"]] = str(entry.get("sha256") or "")
        return found

    def upload(self, candidate: Candidate) -> None:
        owner, project, version = self.owner, candidate.project, candidate.version
        dist = self._call("read file", self._api.distribution, owner, project, version,
                          candidate.filename)
        if dist is not None:
            if dist.get("sha256") and dist["sha256"] != candidate.sha256:
                raise UploadFailedError(f"{candidate.filename} exists on anaconda.org/{owner} with "
                                    "different contents", conflict=True)
            log.info("already on anaconda.org; adding label %s", self.label)
            self._call("add label", self._api.add_channel, self.label, owner, project,
                       version, candidate.filename)
            return
        if self._call("read package", self._api.package, owner, project) is None:
            summary, license_name = _summary(candidate)
            self._call("create package", self._api.add_package, owner, project, summary,
                       license_name or None, public=True)
        if self._call("read release", self._api.release, owner, project, version) is None:
            self._call("create release", self._api.add_release, owner, project, version, [],
                       None, {})
        with candidate.path.open("rb") as handle:
            self._call("upload", self._api.upload, owner, project, version, candidate.filename,
                       handle, "pypi", "", attrs={}, channels=[self.label])

    def finish(self, published: Sequence[Candidate]) -> None:
        return None

    def close(self) -> None:
        return None
