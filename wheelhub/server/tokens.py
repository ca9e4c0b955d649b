"""API tokens: ``whk_`` + 43 urlsafe characters, stored only as their SHA-256.

A token has 256 bits of entropy, so a single unsalted SHA-256 is enough to make the
stored hash useless to an attacker, and checking one is a single indexed lookup
(no per-request password hashing).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import re
import secrets
import time

from wheelhub.errors import UsageError
from wheelhub.server.storage import Scope, TokenRecord

PREFIX = "whk_"
_SHAPE = re.compile(r"^whk_[A-Za-z0-9_-]{43}$")
_DURATION = re.compile(r"^(\d+)\s*([smhdwy]?)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400, "": 86400}


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def looks_like_token(text: str) -> bool:
    return bool(_SHAPE.match(text))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hint(token: str) -> str:
    """The part of a token safe to show in listings: prefix and four characters."""
    return token[: len(PREFIX) + 4] + "…"


def parse_duration(text: str, *, what: str = "duration") -> int:
    """Seconds of ``90d``, ``12h``, ``2w``, ``1y`` (a bare number means days)."""
    match = _DURATION.match(text.strip().lower())
    if not match or int(match.group(1)) <= 0:
        raise UsageError(f"invalid {what} '{text}'",
                         hint="use a positive duration such as 30d, 12h, 2w or 1y")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_expiry(text: str | None, *, now: float | None = None) -> float | None:
    """``90d``, ``12h``, ``2w``, ``1y`` (a bare number means days), or ``never``/None."""
    if text is None or text.strip().lower() in {"", "never", "none"}:
        return None
    try:
        seconds = parse_duration(text, what="expiry")
    except UsageError as error:
        raise UsageError(error.message, hint=f"{error.hint}, or 'never'") from None
    return (now if now is not None else time.time()) + seconds


def check_label_glob(glob: str | None) -> str | None:
    if glob is None or glob == "":
        return None
    if "/" in glob or len(glob) > 200:
        raise UsageError(f"invalid label glob '{glob}'", hint="use a glob such as 'feature-*'")
    return glob


def label_allowed(token: TokenRecord, label: str) -> bool:
    return token.label_glob is None or fnmatch.fnmatchcase(label, token.label_glob)


def grants(token: TokenRecord, *, owner: str, label: str | None, needed: Scope) -> bool:
    """Does *token* allow *needed* on *owner*/*label* (or on the whole owner if label is None)?"""
    if token.owner != owner or token.scope < needed:
        return False
    return label is None or label_allowed(token, label)


def from_basic_auth(header_value: bytes) -> str | None:
    """The password of an ``Authorization: Basic`` header (any user; twine sends __token__)."""
    scheme, _, encoded = header_value.partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    _user, sep, password = decoded.partition(":")
    return password if sep else None
