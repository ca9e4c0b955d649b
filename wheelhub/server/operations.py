"""The hub's management operations, one implementation for the HTTP API and the local CLI.

Every write (label operations, promotion, retention, prune, import, webhook changes)
goes through :class:`Operations`, which authorizes it (admin token; the local CLI, which
holds the hub's files, is trusted), runs it as one storage transaction and appends an
audit event, which also queues the owner's webhooks. Arguments and results are JSON
objects, so :mod:`wheelhub.server.client` sends the same ones over HTTP or passes them
here directly: local and remote runs are the same code.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from wheelhub.index.names import DEFAULT_LABEL, check_label
from wheelhub.server import archive, tokens
from wheelhub.server.errors import HubForbidden, HubNotFound, UploadRejected
from wheelhub.server.hub import Hub
from wheelhub.server.storage import (
    AuditEvent,
    RetentionRule,
    Scope,
    Selection,
    TokenRecord,
)
from wheelhub.util.log import get_logger

log = get_logger("server")

Args = Mapping[str, object]
Result = dict[str, object]

# What the audit log records and webhooks can subscribe to ("*": everything).
EVENTS = ("upload", "create", "bases", "copy", "move", "promote", "remove", "delete", "yank", "unyank", "prune",
          "visibility", "import", "retention", "token-create", "token-revoke", "webhook-add",
          "webhook-remove")
LABEL_OPERATIONS = ("files", "create", "bases", "copy", "move", "promote", "remove", "delete", "yank", "unyank",
                    "visibility")
OWNER_OPERATIONS = ("retention", "prune", "audit", "webhooks", "deliveries")


@dataclass(frozen=True, kw_only=True, slots=True)
class Actor:
    """Who asks: a token (never its secret) from an address, or the local CLI."""

    token: TokenRecord | None
    address: str

    @classmethod
    def local(cls) -> Actor:
        return cls(token=None, address="local")

    @property
    def id(self) -> int | None:
        return None if self.token is None else self.token.id

    @property
    def description(self) -> str:
        if self.token is None:
            return f"local {getpass.getuser()}@{socket.gethostname()}"
        note = f" ({self.token.description})" if self.token.description else ""
        return f"token {self.token.id}{note}"


def _bad(message: str, hint: str | None = None) -> UploadRejected:
    return UploadRejected(message, hint=hint)


def _text(args: Args, key: str, default: str | None = None) -> str | None:
    value = args.get(key, default)
    if value is not None and not isinstance(value, str):
        raise _bad(f"'{key}' must be a string, not {json.dumps(value)}")
    return value


def _count(args: Args, key: str) -> int | None:
    value = args.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit() \
            or int(value) <= 0:
        raise _bad(f"--{key.replace('_', '-')} must be a positive whole number, not '{value}'",
                   hint="e.g. --keep-versions 5")
    return int(value)


def selection_of(args: Args) -> Selection:
    return Selection(project=_text(args, "project"), version=_text(args, "version"),
                     filename=_text(args, "filename"))


def _bases(args: Args, operation: str) -> list[str]:
    bases = args.get("bases", [])
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise _bad(f'{operation} takes "bases": a list of label names')
    return bases


def check_webhook_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise _bad(f"webhook URL '{url}' is not an http(s) URL",
                   hint="e.g. https://ci.example.org/hook")
    return url


def check_events(events: object) -> tuple[str, ...]:
    names = events.split(",") if isinstance(events, str) else events
    if not isinstance(names, list | tuple) or not names:
        raise _bad("a webhook needs --events", hint=f"any of {', '.join(EVENTS)}, or '*'")
    unknown = [str(n) for n in names if n not in (*EVENTS, "*")]
    if unknown:
        raise _bad(f"unknown webhook event(s): {', '.join(unknown)}",
                   hint=f"events are {', '.join(EVENTS)}, or '*'")
    return tuple(str(n) for n in names)


class Operations:
    def __init__(self, hub: Hub, *, on_event: Callable[[], None] | None = None) -> None:
        self.hub = hub
        self.storage = hub.storage
        self._on_event = on_event
        self._busy: dict[tuple[str, str], int] = {}
        self._busy_lock = threading.Lock()

    # -- authorization, audit, busy labels ---------------------------------------------

    def authorize(self, actor: Actor, owner: str, label: str | None) -> None:
        """Admin on the label; owner-wide operations need a token for every label."""
        if actor.token is None and actor.address == "local":
            if self.storage.get_owner(owner) is None:
                raise HubNotFound.owner(owner)
            return
        self.hub.check_write(owner, label or DEFAULT_LABEL, actor.token, Scope.ADMIN)
        if label is None and actor.token is not None and actor.token.label_glob is not None:
            raise HubForbidden.label(owner, "*", actor.token.label_glob)

    def record(self, actor: Actor, owner: str, label: str, action: str, *,
               files: tuple[str, ...] = (), detail: Mapping[str, object] | None = None) -> None:
        self.storage.record_event(AuditEvent(
            id=0, time=time.time(), owner=owner, label=label, action=action,
            actor_id=actor.id, actor=actor.description, address=actor.address, files=files,
            detail=json.dumps(dict(detail or {}), sort_keys=True)))
        if self._on_event is not None:
            self._on_event()

    @contextlib.contextmanager
    def uploading(self, owner: str, label: str) -> Iterator[None]:
        """Mark *label* busy while an upload streams in, so prune leaves it alone."""
        key = (owner, label)
        with self._busy_lock:
            self._busy[key] = self._busy.get(key, 0) + 1
        try:
            yield
        finally:
            with self._busy_lock:
                self._busy[key] -= 1
                if not self._busy[key]:
                    del self._busy[key]

    def _busy_labels(self, owner: str) -> frozenset[str]:
        with self._busy_lock:
            return frozenset(label for o, label in self._busy if o == owner)

    # -- label operations --------------------------------------------------------------

    def label(self, actor: Actor, owner: str, label: str, operation: str, args: Args) -> Result:
        if operation not in LABEL_OPERATIONS or operation == "files":
            raise HubNotFound.thing(f"operation '{operation}'")
        if operation == "create":
            return self._create(actor, owner, label, args)
        self.authorize(actor, owner, label)
        selection = selection_of(args)
        detail: dict[str, object] = {}
        files: tuple[str, ...] = tuple(r.filename for r in self.storage.list_files(
            owner, label, selection)) if operation not in {"visibility", "bases"} else ()
        result: Result = {"operation": operation}
        if operation in {"copy", "move", "promote"}:
            target = _text(args, "to")
            if not target:
                raise _bad(f"{operation} needs a target label: {{\"to\": \"main\"}}")
            check_label(target)
            self.authorize(actor, owner, target)
            detail["to"] = target
            if operation == "promote":
                require = _text(args, "require")
                if require not in {None, "tested"}:
                    raise _bad(f"unknown requirement '{require}'", hint="use --require tested")
                outcome = self.storage.promote(owner, label, target, selection,
                                               require_tested=require == "tested")
                files = outcome.promoted
                result.update(promoted=list(outcome.promoted),
                              left_behind=[list(pair) for pair in outcome.left_behind])
                detail.update(require=require, left_behind=len(outcome.left_behind))
            else:
                result["files"] = self.storage.copy(owner, label, target, selection,
                                                    move=operation == "move")
        elif operation == "remove":
            result["files"] = self.storage.remove(owner, label, selection)
        elif operation == "delete":
            result["files"] = self.storage.delete_label(owner, label)
        elif operation in {"yank", "unyank"}:
            reason = str(args.get("reason") or "") if operation == "yank" else None
            result["files"] = self.storage.yank(owner, label, selection, reason)
        elif operation == "bases":
            bases = _bases(args, operation)
            self.storage.set_bases(owner, label, bases)
            detail["bases"] = bases
            result.update(label=label, bases=bases)
        else:  # visibility
            private = args.get("private")
            if not isinstance(private, bool):
                raise _bad("visibility needs {\"private\": true|false}")
            self.storage.set_label_private(owner, label, private)
            detail["private"] = private
        self.record(actor, owner, label, operation, files=files, detail=detail)
        return result

    def _create(self, actor: Actor, owner: str, label: str, args: Args) -> Result:
        # Creating a label is what an upload may do anyway: an upload token suffices.
        if actor.token is not None or actor.address != "local":
            self.hub.check_write(owner, label, actor.token, Scope.UPLOAD)
        bases = _bases(args, "create")
        self.storage.create_label(owner, label, private=args.get("private") is True, bases=bases)
        self.record(actor, owner, label, "create", detail={"bases": bases})
        return {"operation": "create", "label": label, "bases": bases}

    def files(self, owner: str, label: str) -> Result:
        records = self.storage.list_files(owner, label)
        provenance = self.storage.provenance(owner, label)
        return {"owner": owner, "label": label, "files": [
            {"filename": r.filename, "project": r.project, "version": r.version,
             "sha256": r.sha256, "size": r.size, "yanked": r.yanked,
             "provenance": provenance[r.filename].to_json() if r.filename in provenance
             else None} for r in records]}

    # -- owner operations ----------------------------------------------------------------

    def owner(self, actor: Actor, owner: str, operation: str, args: Args) -> Result:
        if operation not in OWNER_OPERATIONS:
            raise HubNotFound.thing(f"operation '{operation}'")
        self.authorize(actor, owner, None)
        handler: Callable[[Actor, str, Args], Result] = getattr(self, f"_{operation}")
        return handler(actor, owner, args)

    def _retention(self, actor: Actor, owner: str, args: Args) -> Result:
        glob = _text(args, "glob")
        if glob is not None:
            tokens.check_label_glob(glob)
            if args.get("remove"):
                if not self.storage.remove_retention(owner, glob):
                    raise HubNotFound.thing(f"retention rule '{glob}'")
                self.record(actor, owner, "", "retention", detail={"glob": glob, "removed": True})
            else:
                age = _text(args, "max_age")
                rule = RetentionRule(label_glob=glob, keep_versions=_count(args, "keep_versions"),
                                     max_age=None if age is None
                                     else float(tokens.parse_duration(age, what="--max-age")))
                self.storage.set_retention(owner, rule)
                self.record(actor, owner, "", "retention", detail={"glob": glob, "rule": rule.text})
        return {"rules": [{"glob": r.label_glob, "keep_versions": r.keep_versions,
                           "max_age": r.max_age, "text": r.text}
                          for r in self.storage.list_retention(owner)]}

    def _prune(self, actor: Actor, owner: str, args: Args) -> Result:
        live = args.get("live_labels")
        if live is not None and not (isinstance(live, list)
                                     and all(isinstance(x, str) for x in live)):
            raise _bad("'live_labels' must be a list of label names")
        apply = args.get("apply") is True
        plan = self.storage.prune(owner, apply=apply, now=time.time(),
                                  live_labels=None if live is None else frozenset(live),
                                  busy=self._busy_labels(owner))
        items = [{"label": i.label, "filename": i.filename, "rule": i.rule, "reason": i.reason}
                 for i in plan]
        if apply and plan:
            self.record(actor, owner, "", "prune",
                        files=tuple(f"{i.label}/{i.filename}" for i in plan))
        return {"applied": apply, "items": items}

    def _audit(self, _actor: Actor, owner: str, args: Args) -> Result:
        since = _text(args, "since")
        events = self.storage.list_events(
            owner, since=None if since is None
            else time.time() - tokens.parse_duration(since, what="--since"),
            label=_text(args, "label"), action=_text(args, "action"))
        return {"events": [e.to_json() for e in events]}

    def _webhooks(self, actor: Actor, owner: str, args: Args) -> Result:
        if (url := _text(args, "url")) is not None:
            events = check_events(args.get("events"))
            secret, secret_env = _text(args, "secret") or "", _text(args, "secret_env") or ""
            if len(secret) < 16:
                raise _bad(f"the webhook secret from ${secret_env or '?'} is missing or shorter "
                           "than 16 characters", hint="e.g. export HOOK_SECRET=$(openssl rand "
                           "-hex 32)")
            hook = self.storage.add_webhook(owner, check_webhook_url(url), events, secret,
                                            secret_env)
            self.record(actor, owner, "", "webhook-add", detail={
                "id": hook.id, "url": url, "events": list(events), "secret_env": secret_env})
        elif (remove := args.get("remove")) is not None:
            if not isinstance(remove, int) or not self.storage.remove_webhook(owner, remove):
                raise HubNotFound.thing(f"webhook {remove}")
            self.record(actor, owner, "", "webhook-remove", detail={"id": remove})
        return {"webhooks": [{"id": h.id, "url": h.url, "events": list(h.events),
                              "secret_env": h.secret_env, "created": h.created}
                             for h in self.storage.list_webhooks(owner)]}

    def _deliveries(self, _actor: Actor, owner: str, args: Args) -> Result:
        hook = args.get("webhook")
        deliveries = self.storage.list_deliveries(owner, hook if isinstance(hook, int) else None)
        return {"deliveries": [
            {"id": d.id, "webhook": d.webhook_id, "event_id": d.event_id, "event": d.action,
             "url": d.url, "attempts": d.attempts, "state": d.state, "status": d.last_status,
             "updated": d.updated} for d in deliveries]}

    # -- archives ------------------------------------------------------------------------

    def archive(self, actor: Actor, owner: str, label: str, out: Path) -> int:
        """Write *label* as an archive to *out*; the number of files."""
        self.authorize(actor, owner, label)
        return archive.write_archive(self.storage, owner, label, out)

    def import_archive(self, actor: Actor, owner: str, label: str, path: Path,
                       source: str) -> Result:
        self.authorize(actor, owner, label)
        check_label(label)
        with archive.read_archive(self.storage, path, source) as items:
            count = self.storage.import_files(owner, label, items)
        self.record(actor, owner, label, "import", detail={"source": source},
                    files=tuple(i.new.record.filename for i in items))
        return {"operation": "import", "files": count}

