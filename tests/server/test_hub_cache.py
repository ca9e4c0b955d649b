"""The hub's build cache records through its API, on SQLite and PostgreSQL (the build side's
use of them: tests/build/test_remote_cache.py)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from tests.support.dists import make_wheel
from tests.support.hub import HubProcess, http, upload
from wheelhub.index import urls


def post(hub: HubProcess, owner: str, label: str, records: list[object], token: str) -> dict[str, object]:
    reply = http(urls.cache_records_url(hub.base_url, owner), method="POST", token=token,
                 data=json.dumps({"label": label, "records": records}).encode(),
                 headers={"Content-Type": "application/json"})
    assert reply.status == 200, reply.text
    found: dict[str, object] = json.loads(reply.body)
    return found


def test_records_are_stored_checked_replaced_and_found_newest_first(
        hub: HubProcess, owner: str, upload_token: str, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "dist", "cached-pkg", "1.0")
    data = wheel.read_bytes()
    for label in ("feature-x", "main"):
        assert upload(hub.upload_url(owner, label), wheel, upload_token).status == 200
    named = {"filename": wheel.name, "sha256": hashlib.sha256(data).hexdigest(),
             "size": len(data)}
    prekey = "ab" * 32

    def record(key: str, **wheel: object) -> dict[str, object]:
        return {"prekey": prekey, "key": key, "wheels": [{**named, **wheel}]}

    first, second = record("01" * 32), record("02" * 32)
    assert post(hub, owner, "feature-x", [first, record("03" * 32, sha256="00" * 32)],
                upload_token) == {"stored": 1, "refused": [
                    f"record 1: {wheel.name} is not in {owner}/feature-x with that sha256 "
                    "and size"]}
    time.sleep(0.01)  # records are ordered by when they were stored
    assert post(hub, owner, "feature-x", [second], upload_token)["stored"] == 1
    time.sleep(0.01)
    assert post(hub, owner, "main", [first], upload_token)["stored"] == 1
    assert post(hub, owner, "main", [], upload_token) == {"stored": 0, "refused": []}

    found = json.loads(http(urls.cache_records_url(hub.base_url, owner, prekey)).body)
    # the first record again, for main, replaced its older self and is the newest
    assert [(r["key"], r["label"]) for r in found["records"]] == [
        (first["key"], "main"), (second["key"], "feature-x")]
    assert json.loads(http(urls.cache_records_url(hub.base_url, owner, "cd" * 32)).body)[
        "records"] == []
    got = http(urls.cache_file_url(hub.base_url, owner, wheel.name))
    assert got.status == 200 and got.body == data
    assert http(urls.cache_file_url(hub.base_url, owner, "nope-1.0-py3-none-any.whl")).status \
        == 404
