"""Label lifecycle against a real hub: promotion gates, retention and prune, archive and
import, the audit log, webhooks; each command run locally (--root) and remotely (--url)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.cli import CliResult, CliRunner, cli_runner
from tests.support.dists import make_wheel
from tests.support.hub import HubProcess, http, raw_database, upload
from tests.support.pip import make_venv, offline_pip_env
from wheelhub.server import open_storage
from wheelhub.server.storage import Selection

COMMANDS = ("wheelhub.cli.label", "wheelhub.cli.audit", "wheelhub.cli.webhook")


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> CliRunner:
    return cli_runner(monkeypatch, capsys, tmp_path, COMMANDS)


def local(cli: CliRunner, hub: HubProcess, *argv: str) -> CliResult:
    """``wheelhub <argv> --root ROOT``, which must succeed."""
    result = cli(*argv, "--root", str(hub.root))
    assert result.code == 0, result.err
    return result


def remote(cli: CliRunner, hub: HubProcess, token: str, *argv: str, ok: bool = True) -> CliResult:
    """``wheelhub <argv> --url URL`` with the admin token in $WHEELHUB_TOKEN."""
    result = cli(*argv, "--url", hub.base_url, env={"WHEELHUB_TOKEN": token})
    assert (result.code == 0) == ok, result.err
    return result


def publish(hub: HubProcess, owner: str, label: str, wheel: Path, token: str,
            verdict: str | None = None, **provenance: str) -> None:
    fields = {f"wheelhub_{k}": v for k, v in provenance.items()}
    if verdict is not None:
        fields["wheelhub_test"] = verdict
    reply = upload(hub.upload_url(owner, label), wheel, token, form=fields)
    assert reply.status == 200, reply.text


def files_of(hub: HubProcess, owner: str, label: str) -> dict[str, dict[str, object]]:
    storage = open_storage(hub.root)
    try:
        provenance = storage.provenance(owner, label)
        return {r.filename: {"sha256": r.sha256, "yanked": r.yanked, "size": r.size,
                             "provenance": provenance.get(r.filename)}
                for r in storage.list_files(owner, label)}
    finally:
        storage.close()


# -- promotion -----------------------------------------------------------------------------


def test_promote_require_tested_takes_only_passed_wheels_local_and_remote(
        cli: CliRunner, hub: HubProcess, owner: str, upload_token: str, admin_token: str,
        dist_dir: Path) -> None:
    good = make_wheel(dist_dir, "good", "1.0")
    bad = make_wheel(dist_dir, "bad", "1.0")
    unknown = make_wheel(dist_dir, "plain", "1.0")
    publish(hub, owner, "testing", good, upload_token, "passed", branch="feature-x",
            commit="abc123", run_url="https://ci.example/1", vendored="libfoo.so.1")
    publish(hub, owner, "testing", bad, upload_token, "failed")
    publish(hub, owner, "testing", unknown, upload_token)  # plain twine: no verdict

    out = local(cli, hub, "label", "promote", owner, "testing", "staging",
                "--require", "tested").out
    assert "promoted 1 file(s)" in out
    assert f"left behind: {bad.name} (test verdict: failed)" in out
    assert f"left behind: {unknown.name} (test verdict: unknown)" in out
    assert list(files_of(hub, owner, "staging")) == [good.name]
    out = remote(cli, hub, admin_token, "label", "promote", owner, "testing", "stable",
                 "--require", "tested").out
    assert list(files_of(hub, owner, "stable")) == [good.name]
    assert "left behind" in out
    recorded = files_of(hub, owner, "stable")[good.name]["provenance"]
    assert recorded is not None and recorded.verdict == "passed"  # type: ignore[attr-defined]
    assert recorded.vendored == ("libfoo.so.1",)  # type: ignore[attr-defined]
    # Without the gate everything goes.
    local(cli, hub, "label", "promote", owner, "testing", "everything")
    assert len(files_of(hub, owner, "everything")) == 3
    # The web page shows the verdict and provenance of each file.
    page = http(hub.upload_url(owner, "stable")).text
    assert "passed" in page and "abc123" in page and "libfoo.so.1" in page
    owner_page = http(hub.upload_url(owner)).text
    assert "Last upload" in owner_page and "UTC" in owner_page


def _synthetic_files(hub: HubProcess, owner: str, label: str, count: int) -> None:
    """*count* more files in *label*, one project each, all rows copied from its one real
    file (same bytes; only the promotion's size matters here), all with verdict passed."""
    with raw_database(hub.root) as conn:
        (owner_id,) = conn.execute("SELECT id FROM owners WHERE name=?", (owner,)).fetchone()
        (label_id,) = conn.execute("SELECT id FROM labels WHERE owner_id=? AND name=?",
                                   (owner_id, label)).fetchone()
        (template,) = conn.execute("SELECT file_id FROM label_files WHERE label_id=?",
                                   (label_id,)).fetchone()
        for i in range(count):
            cursor = conn.execute(
                "INSERT INTO files(owner_id, filename, project, display_name, version, kind, "
                "python_tags, platform_tags, size, sha256, md5, blake2_256, requires_python, "
                "summary, metadata, metadata_sha256, uploaded) SELECT owner_id, ?, ?, ?, version, "
                "kind, python_tags, platform_tags, size, sha256, md5, blake2_256, "
                "requires_python, summary, metadata, metadata_sha256, uploaded FROM files "
                "WHERE id=?", (f"s{i}-1.0-py3-none-any.whl", f"s{i}", f"s{i}", template))
            conn.execute("INSERT INTO label_files(label_id, file_id, project, added) "
                         "VALUES (?, ?, ?, 0)", (label_id, cursor.lastrowid, f"s{i}"))
            conn.execute("INSERT INTO file_provenance(file_id, verdict, details) "
                         "VALUES (?, 'passed', '{}')", (cursor.lastrowid,))


@pytest.mark.slow
def test_promotion_killed_mid_way_leaves_all_or_nothing(hub: HubProcess, owner: str,
                                                        upload_token: str,
                                                        dist_dir: Path) -> None:
    publish(hub, owner, "bulk", make_wheel(dist_dir, "real", "1.0"), upload_token, "passed")
    count = 1 + 3000
    _synthetic_files(hub, owner, "bulk", count - 1)
    wheelhub = str(Path(sys.executable).parent / "wheelhub")
    command = [wheelhub, "label", "promote", owner, "bulk", "target", "--require", "tested",
               "--root", str(hub.root)]

    def drop_target() -> int:
        storage = open_storage(hub.root)
        try:
            present = {lab.name: lab.files for lab in storage.list_labels(owner)}
            if "target" in present:
                storage.delete_label(owner, "target")
            return present.get("target", 0)
        finally:
            storage.close()

    started = time.monotonic()
    subprocess.run([wheelhub, "--version"], check=True, capture_output=True)
    startup = time.monotonic() - started
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    full = time.monotonic() - started
    assert drop_target() == count
    seen: set[int] = set()
    for step in range(8):  # kills spread over the promotion itself, after start-up
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(startup + (full - startup) * step / 8)
        process.kill()  # SIGKILL: no cleanup of any kind
        process.wait()
        seen.add(drop_target())
    assert seen <= {0, count}, seen
    # The label's pages agree with its rows: a finished promotion serves every project.
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    assert http(hub.index_url(owner, "target") + "s2999/").status == 200


# -- retention and prune ------------------------------------------------------------------


def _age(hub: HubProcess, owner: str, labels: list[str], days: float) -> None:
    """Make *labels*' last upload *days* old (synthetic history)."""
    with raw_database(hub.root) as conn:
        conn.executemany(
            "UPDATE label_files SET added=? WHERE label_id=(SELECT l.id FROM labels l JOIN "
            "owners o ON o.id=l.owner_id WHERE o.name=? AND l.name=?)",
            [(time.time() - days * 86400, owner, label) for label in labels])


def test_prune_dry_run_and_applied_run_agree_on_hundreds_of_labels(
        cli: CliRunner, hub: HubProcess, owner: str, upload_token: str, admin_token: str,
        dist_dir: Path) -> None:
    for version in ("1.0", "1.1", "2.0", "10.0"):
        publish(hub, owner, "main", make_wheel(dist_dir, "app", version), upload_token)
    storage = open_storage(hub.root)
    try:
        labels = [f"feature-{i}" for i in range(200)] + [f"release-{i}" for i in range(50)]
        for label in labels:
            storage.copy(owner, "main", label, Selection(project="app", version="1.0"),
                         move=False)
    finally:
        storage.close()
    old = [f"feature-{i}" for i in range(0, 200, 3)]
    _age(hub, owner, [*old, "release-1"], days=45)

    local(cli, hub, "label", "retention", owner, "feature-*", "--max-age", "30d")
    remote(cli, hub, admin_token, "label", "retention", owner, "main", "--keep-versions", "2")
    rules = local(cli, hub, "label", "retention", owner).out
    assert rules == remote(cli, hub, admin_token, "label", "retention", owner).out
    assert "feature-*\tmax age 30d" in rules and "main\tkeep 2 versions" in rules

    dry = json.loads(remote(cli, hub, admin_token, "label", "prune", owner, "--json").out)
    assert dry["applied"] is False
    assert {i["label"] for i in dry["items"] if not i["filename"]} == set(old)
    assert sorted(i["filename"] for i in dry["items"] if i["label"] == "main") == [
        "app-1.0-py3-none-any.whl", "app-1.1-py3-none-any.whl"]
    assert len(files_of(hub, owner, "main")) == 4  # a dry run changes nothing
    table = local(cli, hub, "label", "prune", owner).out
    assert "would remove 2 file(s) and 67 label(s)" in table and "max age 30d" in table

    applied = json.loads(local(cli, hub, "label", "prune", owner, "--yes", "--json").out)
    assert applied["items"] == dry["items"]
    storage = open_storage(hub.root)
    try:
        remaining = {lab.name for lab in storage.list_labels(owner)}
    finally:
        storage.close()
    assert remaining == {"main", *labels} - set(old)  # release-1 is old but has no rule
    assert sorted(files_of(hub, owner, "main")) == ["app-10.0-py3-none-any.whl",
                                                     "app-2.0-py3-none-any.whl"]
    # app 1.0 is still referenced by the surviving labels; 1.1 only was in main: collected.
    sha_11 = hashlib.sha256((dist_dir / "app-1.1-py3-none-any.whl").read_bytes()).hexdigest()
    assert not (hub.root / "blobs" / sha_11[:2] / sha_11).exists()
    assert "prune" in local(cli, hub, "audit", owner, "--action", "prune").out


def test_prune_branches_from_removes_labels_of_deleted_branches(
        cli: CliRunner, hub: HubProcess, owner: str, upload_token: str, dist_dir: Path,
        tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    subprocess.run([*git, "branch", "feature/Alive"], check=True)
    for label in ("feature-alive", "feature-gone", "other-gone"):
        publish(hub, owner, label, make_wheel(dist_dir, "b", "1.0"), upload_token)
    local(cli, hub, "label", "retention", owner, "feature-*", "--keep-versions", "5")
    plan = json.loads(local(cli, hub, "label", "prune", owner, "--branches-from", str(repo),
                            "--json").out)
    assert [(i["label"], i["reason"]) for i in plan["items"]] == [
        ("feature-gone", "its branch no longer exists")]


# -- archive and import --------------------------------------------------------------------


def test_archive_round_trip_is_exact_and_installable(
        cli: CliRunner, hub: HubProcess, owner: str, upload_token: str, admin_token: str,
        dist_dir: Path, tmp_path: Path) -> None:
    publish(hub, owner, "stable", make_wheel(dist_dir, "arc-pkg", "1.0"), upload_token, "passed",
            commit="c0ffee")
    publish(hub, owner, "stable", make_wheel(dist_dir, "arc-pkg", "2.0"), upload_token, "passed")
    local(cli, hub, "label", "yank", "--owner", owner, "stable", "--project", "arc-pkg",
          "--version", "2.0", "--reason", "broken")
    archive = tmp_path / "stable.tar"
    remote(cli, hub, admin_token, "label", "archive", owner, "stable", "-o", str(archive))
    local(cli, hub, "label", "import", owner, "restored", str(archive))
    assert files_of(hub, owner, "restored") == files_of(hub, owner, "stable")

    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    python = make_venv(tmp_path / "venv")
    for how in (["--index-url", (unpacked / "simple").as_uri() + "/"],
                ["--no-index", "--find-links", str(unpacked / "files")]):
        target = tmp_path / f"t{len(how)}"
        proc = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--target",
                               str(target), *how, "arc-pkg"], capture_output=True, text=True,
                              env=offline_pip_env(), check=False, timeout=120)
        assert proc.returncode == 0, proc.stderr
        # The index skips the yanked 2.0; find-links has no yank data and takes the newest.
        version = "1.0" if how[0] == "--index-url" else "2.0"
        assert (target / f"arc_pkg-{version}.dist-info").is_dir()


def test_edited_or_truncated_archive_and_conflicts_import_nothing(
        cli: CliRunner, hub: HubProcess, owner: str, upload_token: str, dist_dir: Path,
        tmp_path: Path) -> None:
    publish(hub, owner, "stable", make_wheel(dist_dir, "edit-me", "1.0"), upload_token)
    archive = tmp_path / "stable.tar"
    local(cli, hub, "label", "archive", owner, "stable", "-o", str(archive))
    data = archive.read_bytes()

    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(data[: len(data) // 3])
    edited = tmp_path / "edited.tar"
    marker = b"__version__ = '1.0'"
    offset = data.find(b"PK\x03\x04")  # inside the wheel member: flip one stored byte
    assert offset > 0 and marker not in data[:offset]
    edited.write_bytes(data[: offset + 40] + bytes([data[offset + 40] ^ 1]) + data[offset + 41:])
    for bad, why in ((truncated, "truncated or damaged"),
                     (edited, "does not match its recorded sha256")):
        result = cli("label", "import", owner, "copy", str(bad), "--root", str(hub.root))
        assert result.code != 0 and why in result.err, result.err
        assert "nothing was imported" in result.err
    storage = open_storage(hub.root)
    try:
        assert "copy" not in {lab.name for lab in storage.list_labels(owner)}
    finally:
        storage.close()

    # Another owner holding other bytes under the same filename: the whole import fails.
    other = owner + "b"
    from wheelhub.server import create_token

    other_token = create_token(hub.root, owner=other, scope="upload")
    publish(hub, other, "main", make_wheel(tmp_path / "o", "edit-me", "1.0", payload=b"#x"),
            other_token)
    result = cli("label", "import", other, "main", str(archive), "--root", str(hub.root))
    assert result.code != 0 and "already has other bytes" in result.err
    assert "edit_me-1.0-py3-none-any.whl" in result.err


# -- audit log ------------------------------------------------------------------------------


def test_audit_log_records_every_write_and_is_append_only(
        cli: CliRunner, hub: HubProcess, owner: str, upload_token: str, admin_token: str,
        dist_dir: Path) -> None:
    wheel = make_wheel(dist_dir, "audited", "1.0")
    publish(hub, owner, "dev", wheel, upload_token)
    remote(cli, hub, admin_token, "label", "copy", "--owner", owner, "dev", "qa")
    local(cli, hub, "label", "yank", "--owner", owner, "qa", "--project", "audited")
    remote(cli, hub, admin_token, "label", "visibility", "--owner", owner, "qa", "private")
    lines = remote(cli, hub, admin_token, "audit", owner, "--since", "1d", "--json").out
    events = [json.loads(line) for line in lines.splitlines()]
    assert [e["action"] for e in events] == ["upload", "copy", "yank", "visibility"]
    assert events[0]["files"] == [wheel.name] and events[0]["address"] == "127.0.0.1"
    assert events[0]["actor"].startswith("token ") and events[2]["address"] == "local"
    assert events[2]["actor"].startswith("local ")
    for secret in (upload_token, admin_token):
        assert secret not in lines
    only = local(cli, hub, "audit", owner, "--label", "qa", "--action", "yank").out
    assert "yank" in only and "upload" not in only
    with pytest.raises(Exception, match="append-only"), raw_database(hub.root) as conn:
        conn.execute("DELETE FROM audit_events")


# -- webhooks ------------------------------------------------------------------------------


class Receiver:
    """A loopback HTTP receiver that checks signatures with its own secret."""

    def __init__(self, secret: str, *, hang: float = 0.0) -> None:
        self.secret = secret
        self.hang = hang
        self.received: list[tuple[str, dict[str, object]]] = []
        self.rejected = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.hang)
                expected = "sha256=" + hmac.new(receiver.secret.encode(), body,
                                                hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, self.headers["X-Wheelhub-Signature"]):
                    receiver.rejected += 1
                    self.send_response(401)
                else:
                    receiver.received.append((self.headers["X-Wheelhub-Event"],
                                              json.loads(body)))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver("s" * 32)
    yield server
    server.server.shutdown()


def _wait(condition: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


def test_webhooks_are_signed_retried_and_never_slow_an_upload(
        cli: CliRunner, hub: HubProcess, owner: str, upload_token: str, admin_token: str,
        dist_dir: Path, receiver: Receiver) -> None:
    env = {"WHEELHUB_TOKEN": admin_token, "HOOK_SECRET": receiver.secret,
           "WRONG_SECRET": "w" * 32}
    for secret_env in ("HOOK_SECRET", "WRONG_SECRET"):
        result = cli("webhook", "add", owner, receiver.url, "--events", "upload,promote",
                     "--secret-env", secret_env, "--url", hub.base_url, env=env)
        assert result.code == 0, result.err
        assert receiver.secret not in result.out
    hanging = Receiver(receiver.secret, hang=10.0)
    try:
        result = cli("webhook", "add", owner, hanging.url, "--events", "*", "--secret-env",
                     "HOOK_SECRET", "--root", str(hub.root), env=env)
        assert result.code == 0, result.err
        wheel = make_wheel(dist_dir, "hooked", "1.0")
        started = time.perf_counter()
        publish(hub, owner, "dev", wheel, upload_token)
        upload_seconds = time.perf_counter() - started
        _wait(lambda: receiver.received and receiver.rejected >= 2)
        # The good signature arrived; the wrong one was refused and retried.
        event, payload = receiver.received[0]
        assert event == "upload" and payload["files"] == [wheel.name]
        assert payload["owner"] == owner and payload["label"] == "dev"
        assert receiver.rejected >= 2
        deliveries = remote(cli, hub, admin_token, "webhook", "deliveries", owner).out
        assert "delivered" in deliveries and "HTTP 401" in deliveries
        # A receiver that hangs for 10s held up nothing: the upload answered at once.
        assert upload_seconds < 1.0, upload_seconds
        started = time.perf_counter()
        publish(hub, owner, "dev", make_wheel(dist_dir, "hooked", "2.0"), upload_token)
        assert time.perf_counter() - started < 1.0
    finally:
        hanging.server.shutdown()
    assert hub.log_text().count(receiver.secret) == 0
    assert receiver.secret not in remote(cli, hub, admin_token, "webhook", "list", owner).out


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "message"), [
    (("label", "retention", "{owner}", "feature-*", "--keep-versions", "-1"),
     "--keep-versions must be a positive whole number, not '-1'"),
    (("label", "retention", "{owner}", "feature-*", "--max-age", "soon"),
     "invalid --max-age 'soon'"),
    (("label", "promote", "{owner}", "missing", "main"), "label '{owner}/missing' not found"),
    (("webhook", "add", "{owner}", "ftp://example.org/x", "--events", "upload",
      "--secret-env", "HOOK_SECRET"), "webhook URL 'ftp://example.org/x' is not an http(s) URL"),
    (("webhook", "add", "{owner}", "https://example.org/x", "--events", "uplaod",
      "--secret-env", "HOOK_SECRET"), "unknown webhook event(s): uplaod"),
])
@pytest.mark.parametrize("where", ["local", "remote"])
def test_bad_input_is_one_clear_error_and_changes_nothing(
        cli: CliRunner, hub: HubProcess, owner: str, admin_token: str, argv: tuple[str, ...],
        message: str, where: str) -> None:
    flags = ["--root", str(hub.root)] if where == "local" else ["--url", hub.base_url]
    result = cli(*(a.format(owner=owner) for a in argv), *flags,
                 env={"WHEELHUB_TOKEN": admin_token, "HOOK_SECRET": "h" * 32})
    assert result.code != 0
    assert f"error: {message.format(owner=owner)}" in result.err, result.err
    assert "hint:" in result.err
    storage = open_storage(hub.root)
    try:
        assert storage.list_retention(owner) == []
        assert storage.list_webhooks(owner) == []
        assert [lab.name for lab in storage.list_labels(owner)] == ["main"]
        assert storage.list_events(owner) == []
    finally:
        storage.close()


def test_token_create_and_revoke_are_audited(hub: HubProcess, owner: str,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    token_cli = cli_runner(monkeypatch, capsys, tmp_path, (*COMMANDS, "wheelhub.cli.token"))
    created = token_cli("token", "create", "--owner", owner, "--scope", "admin",
                        "--description", "ci", "--root", str(hub.root))
    assert created.code == 0, created.err
    token_id = re.search(r"token (\d+): owner", created.err).group(1)  # type: ignore[union-attr]
    assert token_cli("token", "revoke", token_id, "--root", str(hub.root)).code == 0
    events = [json.loads(line) for line in
              local(token_cli, hub, "audit", owner, "--json").out.splitlines()]
    assert [e["action"] for e in events] == ["token-create", "token-revoke"]
    assert created.last_line not in json.dumps(events)


def test_a_schema_1_hub_opens_and_gains_the_lifecycle_tables(tmp_path: Path) -> None:
    from wheelhub.server.sqlite import SCHEMA, SCHEMA_VERSION

    with sqlite3.connect(tmp_path / "hub.sqlite3") as conn:
        conn.executescript(SCHEMA + "PRAGMA user_version=1;")
        conn.execute("INSERT INTO owners(name, private, created) VALUES ('old', 0, 0)")
    storage = open_storage(tmp_path)
    try:
        assert [o.name for o in storage.list_owners()] == ["old"]
        assert storage.list_retention("old") == []
        version = storage._conn().execute("PRAGMA user_version").fetchone()[0]
    finally:
        storage.close()
    assert version == SCHEMA_VERSION
