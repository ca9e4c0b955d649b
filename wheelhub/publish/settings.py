"""From the layered options to one publish: the label decided, the target kind known, the
token read. Shared by ``wheelhub publish`` and ``wheelhub ci`` (which does it before building)."""

from __future__ import annotations

from collections.abc import Mapping

from wheelhub.errors import UsageError
from wheelhub.options import ResolvedConfig
from wheelhub.publish.kinds import target_kind
from wheelhub.publish.labels import LabelDecision, label_from_config, rules_from_config
from wheelhub.publish.model import PublishOptions
from wheelhub.util.log import get_logger

log = get_logger("publish")


def publish_options(config: ResolvedConfig, env: Mapping[str, str]
                    ) -> tuple[LabelDecision, PublishOptions]:
    to = config.get("publish.to")
    if not to:
        raise UsageError("publishing needs a target: --to URL, $WHEELHUB_HUB, or "
                         "publish.to in wheelhub.yaml",
                         hint="for the embedded hub: --to http://HOST:8080/OWNER")
    kind = target_kind(config.get("publish.kind"), to)
    decision = label_from_config(config, env)
    bases = rules_from_config(config).bases_for(decision.label) if kind.name in {"hub", "index"} \
        else ()
    log.info("label: %s", decision.reason)
    kind.check_label(decision.label)
    token_env = config.get("publish.token_env") or kind.token_env
    return decision, PublishOptions(
        wheelhouse=(config.directory / config.get("wheelhouse")).resolve(), to=to,
        label=decision.label, token=(env.get(token_env) or None) if token_env else None,
        token_env=token_env, username=config.get("publish.username"),
        kind=config.get("publish.kind"), allow_untested=config.get("publish.allow_untested"),
        jobs=config.get("publish.jobs"), retries=config.get("publish.retries"),
        dry_run=config.get("publish.dry_run"), label_bases=bases)
