"""Docker images the tests leave behind: prepared snapshots made during a test."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def remove_prepared_since(client: Any, started: float) -> None:
    """Remove the prepared snapshots (``wheelhub-prepared``) created since *started*."""
    for image in client.images.list(name="wheelhub-prepared"):
        created = image.attrs.get("Created", "")
        if created and _timestamp(created) >= started - 1:
            client.images.remove(image.id, force=True)


def _timestamp(text: str) -> float:
    return datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00").timestamp()
