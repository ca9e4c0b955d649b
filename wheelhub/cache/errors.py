"""Errors of the remote build cache. A cache that is down or wrong is never an error of the
build (it warns and builds); only a URL that cannot be a cache at all is."""

from __future__ import annotations

from wheelhub.errors import UsageError


class CacheUrlError(UsageError):
    """--cache-from names something that cannot serve as a build cache."""

    @classmethod
    def not_a_cache(cls, url: str, what: str) -> CacheUrlError:
        return cls(f"--cache-from {url}: {what} cannot serve as a build cache",
                   hint="use a wheelhub hub with the owner (https://hub.example.org/OWNER) or a "
                   "static tree (file:///DIR) that `wheelhub publish` writes to; you can publish "
                   "the wheels elsewhere as well")


class CacheMiss(Exception):
    """One entry cannot come from the cache (a missing or changed file, a timeout): build it."""
