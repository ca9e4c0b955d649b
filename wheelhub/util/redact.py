"""Keep credentials out of logs, reports and error messages (as twine sanitizes URLs)."""

from __future__ import annotations

import re
from collections.abc import Iterable

# userinfo in URLs, /t/<token>/ path prefixes, and our own token format.
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
_TOKEN_PATH = re.compile(r"/t/[^/\s]+/")
_WHEELHUB_TOKEN = re.compile(r"\bwhk_[A-Za-z0-9_-]{8,}")

MASK = "****"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return *text* with URL credentials, token paths and every given secret masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    text = _TOKEN_PATH.sub(f"/t/{MASK}/", text)
    return _WHEELHUB_TOKEN.sub(MASK, text)
