"""The remote build cache: records of what inputs made which wheels, where they are published.

``wheelhub publish`` writes a :class:`~wheelhub.cache.records.CacheRecord` per published
entry (on a hub: per owner, through ``/api/v1/<owner>/cache/``; in a static tree:
``wheelhub-cache.json`` beside the labels); ``wheelhub build --cache-from URL`` reads them
(:mod:`wheelhub.cache.sources`) and downloads instead of building when the inputs match.
Twine indexes and anaconda.org have no place for records: a hub or a static tree can serve
as the cache while the wheels are published elsewhere.
"""
