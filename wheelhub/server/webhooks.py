"""Webhook deliveries: signed JSON POSTs, sent by one background thread of the hub.

Every audit event is queued (in the database, in the transaction that logs it) for each
webhook of its owner that subscribed to it. :class:`Deliverer` sends what is due, off the
request path: a slow or dead receiver delays only other deliveries, never a request.
A failure is retried with exponential backoff; every attempt's outcome is stored
(``wheelhub webhook deliveries``).

The request carries ``X-Wheelhub-Event``, ``X-Wheelhub-Delivery`` and
``X-Wheelhub-Signature: sha256=<hex HMAC-SHA256 of the body, keyed by the secret>``.
A receiver checks it like this::

    import hashlib, hmac
    def verified(secret: bytes, body: bytes, header: str) -> bool:
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, header)
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from wheelhub.server.storage import Delivery, Storage
from wheelhub.util.log import get_logger

log = get_logger("server")

SIGNATURE_HEADER = "X-Wheelhub-Signature"
EVENT_HEADER = "X-Wheelhub-Event"
DELIVERY_HEADER = "X-Wheelhub-Delivery"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(sign(secret, body), header)


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliverySettings:
    timeout: float = 5.0  # seconds a receiver has to answer
    attempts: int = 6  # then the delivery is marked failed
    backoff: float = 2.0  # seconds before the first retry; doubles each time
    poll: float = 1.0  # seconds between looks for due retries (new events wake it at once)
    senders: int = 4  # deliveries in flight at once


class Deliverer:
    """A daemon thread handing due deliveries to a few senders; :meth:`wake` after queueing
    an event."""

    def __init__(self, storage: Storage, settings: DeliverySettings) -> None:
        self.storage = storage
        self.settings = settings
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._pool = ThreadPoolExecutor(settings.senders, thread_name_prefix="webhook")

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=self.settings.timeout + 1)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.settings.poll)
            self._wake.clear()
            try:
                # Leased for longer than a send can take, so no delivery is sent twice at once.
                for delivery, payload in self.storage.due_deliveries(time.time()):
                    self._pool.submit(self._send, delivery, payload)
            except Exception:  # a database hiccup must not end deliveries for good
                log.exception("webhook deliveries")

    def _send(self, delivery: Delivery, payload: bytes) -> None:
        try:
            self._attempt(delivery, payload)
        except Exception:
            log.exception("webhook delivery %d", delivery.id)

    def _attempt(self, delivery: Delivery, payload: bytes) -> None:
        secret = self.storage.webhook_secret(delivery.webhook_id) or ""
        request = urllib.request.Request(delivery.url, data=payload, method="POST", headers={  # noqa: S310
            "Content-Type": "application/json", "User-Agent": "wheelhub-webhook",
            EVENT_HEADER: delivery.action, DELIVERY_HEADER: str(delivery.id),
            SIGNATURE_HEADER: sign(secret, payload)})
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout) as response:  # noqa: S310 - http(s) checked when added
                status, ok = f"HTTP {response.status}", True
        except urllib.error.HTTPError as error:
            status, ok = f"HTTP {error.code}", False
        except (OSError, http.client.HTTPException) as error:
            status, ok = _short(error), False
        attempt = delivery.attempts + 1
        give_up = not ok and attempt >= self.settings.attempts
        retry_at = None if ok or give_up else \
            time.time() + self.settings.backoff * 2 ** (attempt - 1)
        self.storage.finish_delivery(delivery.id, status=status, retry_at=retry_at,
                                     give_up=give_up)
        log.info("webhook %d %s -> %s: %s%s", delivery.webhook_id, delivery.action,
                 delivery.url, status, " (giving up)" if give_up else "")


def _short(error: BaseException) -> str:
    if isinstance(error, TimeoutError) or "timed out" in str(error):
        return "timed out"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)[:120]
    return (str(error) or type(error).__name__)[:120]
