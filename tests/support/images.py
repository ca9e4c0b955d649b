"""Docker images the tests leave behind: prepared snapshots made during a test."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def remove_prepared_since(client: Any, started: float) -> None:
    """Remove the prepared snapshots (``wheelhub-prepared``) created since *started*; one
    another run on the same daemon uses right now, or removed first, stays its business."""
    import docker

    for image in prepared_since(client, started):
        try:
            client.images.remove(image.id, force=True)
        except docker.errors.APIError as error:
            if error.status_code not in {404, 409}:
                raise


def prepared_since(client: Any, started: float) -> list[Any]:
    """The prepared snapshots (``wheelhub-prepared``) created since *started*."""
    return [image for image in client.images.list(name="wheelhub-prepared")
            if image.attrs.get("Created") and _timestamp(image.attrs["Created"]) >= started - 1]


def _timestamp(text: str) -> float:
    return datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00").timestamp()
