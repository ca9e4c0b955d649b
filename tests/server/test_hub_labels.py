"""Labels are views over one store: copy/move/remove atomically with the CLI, then GC."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from tests.support.dists import make_wheel
from tests.support.hub import HubProcess, http, upload

WHEELHUB = str(Path(sys.executable).parent / "wheelhub")


def label_cli(hub: HubProcess, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([WHEELHUB, "label", args[0], "--root", str(hub.root), *args[1:]],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result


def files_in(hub: HubProcess, owner: str, label: str, project: str) -> list[str]:
    reply = http(hub.index_url(owner, label) + f"{project}/",
                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    if reply.status == 404:
        return []
    return sorted(f["filename"] for f in json.loads(reply.body)["files"])


def test_promote_dev_staging_main_then_remove_and_gc(hub: HubProcess, owner: str,
                                                     upload_token: str, dist_dir: Path) -> None:
    wheels = [make_wheel(dist_dir, "promo", v, payload=v.encode() * 1000) for v in ("1.0", "2.0")]
    wheels.append(make_wheel(dist_dir, "other", "1.0"))
    for wheel in wheels:
        assert upload(hub.upload_url(owner, "dev"), wheel, upload_token).status == 200
    blob = hub.root / "blobs"
    sha_v1 = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
    assert (blob / sha_v1[:2] / sha_v1).is_file()
    stored_before = len(list(blob.glob("*/*")))

    label_cli(hub, "copy", "--owner", owner, "dev", "staging")
    assert files_in(hub, owner, "staging", "promo") == files_in(hub, owner, "dev", "promo")
    label_cli(hub, "move", "--owner", owner, "staging", "main", "--project", "promo",
              "--version", "2.0")
    assert files_in(hub, owner, "main", "promo") == ["promo-2.0-py3-none-any.whl"]
    assert files_in(hub, owner, "staging", "promo") == ["promo-1.0-py3-none-any.whl"]
    assert len(list(blob.glob("*/*"))) == stored_before  # views, not copies

    listing = label_cli(hub, "list", "--owner", owner).stdout
    assert "dev\tpublic\t2 projects\t3 files" in listing
    assert "main\tpublic\t1 projects\t1 files" in listing

    # Removing v1 from dev leaves it in staging: nothing is deleted yet.
    label_cli(hub, "remove", "--owner", owner, "dev", "--project", "promo", "--version", "1.0")
    assert files_in(hub, owner, "dev", "promo") == ["promo-2.0-py3-none-any.whl"]
    assert (blob / sha_v1[:2] / sha_v1).is_file()
    # Removing it from the last label collects the file.
    label_cli(hub, "remove", "--owner", owner, "staging", "--all", "--delete")
    assert not (blob / sha_v1[:2] / sha_v1).exists()
    assert http(hub.index_url(owner, "staging")).status == 404
    file_url = hub.index_url(owner, "dev").removesuffix("simple/") + "files/" + wheels[0].name
    assert http(file_url).status == 404
    # The project page vanishes from the index when its last file goes.
    label_cli(hub, "remove", "--owner", owner, "dev", "--project", "other")
    assert 'href="other/"' not in http(hub.index_url(owner, "dev")).text
    assert 'href="promo/"' in http(hub.index_url(owner, "dev")).text


def test_label_cli_errors_are_clear(hub: HubProcess, owner: str, upload_token: str) -> None:
    result = subprocess.run([WHEELHUB, "label", "copy", "--root", str(hub.root), "--owner", owner,
                             "nope", "main"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode != 0
    assert "error: label" in result.stderr and "not found" in result.stderr
    result = subprocess.run([WHEELHUB, "label", "remove", "--root", str(hub.root), "--owner",
                             owner, "main"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 2 and "--all" in result.stderr


def test_token_cli_prints_token_last_and_lists_without_secrets(hub: HubProcess,
                                                               owner: str) -> None:
    created = subprocess.run(
        [WHEELHUB, "token", "create", "--root", str(hub.root), "--owner", owner + "new",
         "--scope", "upload", "--label", "feature-*", "--expires", "90d"],
        capture_output=True, text=True, timeout=60, check=True)
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("whk_") and len(token) == 47
    assert "created owner" in created.stderr
    listing = subprocess.run([WHEELHUB, "token", "list", "--root", str(hub.root), "--owner",
                              owner + "new"], capture_output=True, text=True, timeout=60,
                             check=True).stdout
    assert "feature-*" in listing and token not in listing and token[:8] in listing
    token_id = listing.splitlines()[1].split()[0]
    subprocess.run([WHEELHUB, "token", "revoke", "--root", str(hub.root), token_id],
                   check=True, capture_output=True, timeout=60)
    assert "revoked" in subprocess.run(
        [WHEELHUB, "token", "list", "--root", str(hub.root)], capture_output=True, text=True,
        timeout=60, check=True).stdout
