"""The hub on PostgreSQL: what only a shared database brings (outages, several instances,
a wrong URL), against Debian's real server started by the ``postgres`` fixture."""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.dists import make_wheel
from tests.support.hub import http, raw_database, running_hub, upload
from tests.support.postgres import Postgres
from tests.support.storm import served_intact, upload_storm
from wheelhub.index import urls
from wheelhub.server import create_token, open_storage
from wheelhub.server.postgres import translate, translate_script
from wheelhub.server.sqlite import MIGRATIONS, SCHEMA_VERSION


def serve_fails(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wheelhub", "serve", "--root", str(root),
                           "--port", "1", *args], capture_output=True, text=True, timeout=60,
                          check=False)


def test_sql_is_translated_once_per_statement() -> None:
    assert translate("INSERT OR IGNORE INTO owner_projects(owner_id, project) VALUES (?, ?)") \
        == ("INSERT INTO owner_projects(owner_id, project) VALUES (%s, %s) "
            "ON CONFLICT DO NOTHING", False)
    text, returns_id = translate("INSERT OR REPLACE INTO upstreams(owner_id, url, allow) "
                                 "VALUES (?, ?, ?)")
    assert text.endswith("ON CONFLICT (owner_id) DO UPDATE SET url=EXCLUDED.url, "
                         "allow=EXCLUDED.allow") and not returns_id
    assert translate("INSERT INTO tokens(hash) VALUES (?)")[1]
    statements = [s for m in MIGRATIONS for s in translate_script(m.sql)]
    assert not any("WITHOUT ROWID" in s or " REAL" in s or "BLOB" in s for s in statements)
    assert any("EXECUTE FUNCTION audit_events_no_delete()" in s for s in statements)


def test_two_instances_share_uploads_and_refuse_a_second_set_of_bytes(
        tmp_path: Path, postgres: Postgres) -> None:
    database = postgres.new_database()
    root = tmp_path / "root"
    one = make_wheel(tmp_path / "a", "race-pkg", "1.0")
    other = make_wheel(tmp_path / "b", "race-pkg", "1.0", payload=b"other bytes")
    assert one.read_bytes() != other.read_bytes()
    with running_hub(root, database=database) as a, running_hub(root, database=database) as b:
        token = create_token(root, owner="acme", scope="upload")
        seen = make_wheel(tmp_path / "c", "seen-pkg", "1.0")
        assert upload(a.upload_url("acme"), seen, token).status == 200
        started = time.monotonic()
        while "seen-pkg" not in http(b.index_url("acme") + "seen-pkg/").text:
            assert time.monotonic() - started < 1.0, "instance B did not serve A's upload in 1s"
            time.sleep(0.02)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            replies = list(pool.map(lambda job: upload(job[0].upload_url("acme"), job[1], token),
                                    [(a, one), (b, other)]))
        assert sorted(r.status for r in replies) == [200, 409]
        winner = one if replies[0].status == 200 else other
        got = http(urls.file_url(a.base_url, "acme", "main", winner.name))
        assert got.status == 200 and got.body == winner.read_bytes()
    storage = open_storage(root)
    try:
        stored = [f.sha256 for f in storage.list_files("acme", "main") if f.project == "race-pkg"]
    finally:
        storage.close()
    assert stored == [hashlib.sha256(winner.read_bytes()).hexdigest()]


@pytest.mark.slow
def test_a_database_restart_gives_503_then_recovers(tmp_path: Path, postgres: Postgres) -> None:
    database = postgres.new_database()
    with running_hub(tmp_path / "root", database=database) as hub:
        create_token(hub.root, owner="acme", scope="upload")
        page = hub.index_url("acme")
        assert http(page).status == 200
        postgres.stop()
        try:
            down = http(page)
            assert down.status == 503
            assert "database" in down.text and "unavailable" in down.text
            assert "retry" in down.text
        finally:
            postgres.start()
        deadline = time.monotonic() + 20
        while http(page).status != 200:
            assert time.monotonic() < deadline, "the hub did not recover after the restart"
            time.sleep(0.2)


def test_bad_database_urls_stop_before_serving(tmp_path: Path, postgres: Postgres) -> None:
    root = tmp_path / "root"
    wrong = serve_fails(root, "--database", "mysql://db/hub")
    assert wrong.returncode == 2 and "is not a PostgreSQL URL" in wrong.stderr
    closed = f"postgresql://postgres@127.0.0.1:{postgres.port + 1}/nope"
    unreachable = serve_fails(root, "--database", closed)
    assert unreachable.returncode == 2 and "cannot connect to the database" in unreachable.stderr
    assert not (root / "database.url").exists()
    newer = postgres.new_database()
    open_storage(tmp_path / "other", newer).close()
    with raw_database(tmp_path / "other") as conn:
        conn.execute("INSERT INTO wheelhub_schema(version, name) VALUES (?, 'future')",
                     (SCHEMA_VERSION + 1,))
    too_new = serve_fails(tmp_path / "other", "--database", newer)
    assert too_new.returncode == 2 and "newer wheelhub" in too_new.stderr


def test_db_migrate_copies_a_sqlite_hub_verified_and_refuses_a_used_database(
        tmp_path: Path, postgres: Postgres) -> None:
    root = tmp_path / "root"
    wheel = make_wheel(tmp_path / "dist", "moved-pkg", "1.0")
    with running_hub(root) as hub:
        token = create_token(root, owner="acme", scope="upload")
        assert upload(hub.upload_url("acme", "feature"), wheel, token).status == 200
        before = http(hub.index_url("acme", "feature") + "moved-pkg/").body
    database = postgres.new_database()
    migrate = [sys.executable, "-m", "wheelhub", "db", "migrate", "--root", str(root),
               "--to", database]
    done = subprocess.run(migrate, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "verified" in done.stdout and "files\t1 rows" in done.stdout
    with running_hub(root) as hub:  # the root remembers the database now
        assert (root / "database.url").read_text().strip() == database
        assert http(hub.index_url("acme", "feature") + "moved-pkg/").body == before
        got = http(urls.file_url(hub.base_url, "acme", "feature", wheel.name))
        assert got.body == wheel.read_bytes()
        second = make_wheel(tmp_path / "dist2", "after-pkg", "1.0")
        assert upload(hub.upload_url("acme", "feature"), second, token).status == 200
    again = subprocess.run(migrate, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 2 and "already holds a hub" in again.stderr


@pytest.mark.slow
def test_killing_one_of_two_instances_mid_storm_loses_nothing_acknowledged(
        tmp_path: Path, postgres: Postgres) -> None:
    """Two instances on one database and root, 8 clients over both; one gets SIGKILL
    mid-storm: the other keeps answering and serves every acknowledged upload intact."""
    database = postgres.new_database()
    root = tmp_path / "root"
    open_storage(root, database).close()  # the root remembers its database
    token = create_token(root, owner="acme", scope="upload")
    wheels = [make_wheel(tmp_path / "dist", f"storm-{i % 10}", f"1.{i}",
                         payload=b"#" + os.urandom(16 * 1024).hex().encode())
              for i in range(96)]
    with running_hub(root) as victim, running_hub(root) as survivor:
        storm = upload_storm([victim.upload_url("acme"), survivor.upload_url("acme")], wheels,
                             token, clients=8, kill_after=24,
                             kill=lambda: os.kill(victim.pid, signal.SIGKILL))
        lost, kept = storm.targets
        assert lost.acknowledged_before > 0 and lost.acknowledged_after == 0
        assert kept.failed_before == kept.failed_after == 0
        assert kept.acknowledged_after > 0, "the survivor stopped answering after the kill"
        assert kept.acknowledged_before + kept.acknowledged_after == len(wheels) // 2
        assert served_intact(survivor.index_url("acme"), storm.acknowledged) == []
        assert http(urls.health_url(survivor.base_url)).status == 200


def _children(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


@pytest.mark.slow
def test_workers_share_one_port_and_a_killed_one_is_replaced(tmp_path: Path,
                                                              postgres: Postgres) -> None:
    with running_hub(tmp_path / "root", database=postgres.new_database(),
                     extra_args=["--workers", "2"]) as hub:
        token = create_token(hub.root, owner="acme", scope="upload")
        deadline = time.monotonic() + 20
        while len(_children(hub.pid)) < 2:
            assert time.monotonic() < deadline, "two workers did not start"
            time.sleep(0.1)
        victim = min(_children(hub.pid))
        os.kill(victim, signal.SIGKILL)
        wheel = make_wheel(tmp_path / "dist", "kept-pkg", "1.0")
        assert upload(hub.upload_url("acme"), wheel, token).status == 200  # the other answers
        while victim in _children(hub.pid) or len(_children(hub.pid)) < 2:
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.1)
        assert "kept-pkg" in http(hub.index_url("acme") + "kept-pkg/").text


def test_an_instance_starting_keeps_the_uploads_another_is_writing(tmp_path: Path) -> None:
    writing = open_storage(tmp_path)
    handle, live = writing.temp_file()
    starting = open_storage(tmp_path)
    try:
        assert starting.clean_temp() == 0 and live.exists()
        handle.close()
        writing.close()  # gone: what it left is a leftover now
        assert starting.clean_temp() == 1 and not live.exists()
    finally:
        starting.close()
