"""The build pipeline: requirements + config -> plan -> one session per Python prefix ->
setup hook -> build requirements -> ``pip wheel`` -> auditwheel repair -> wheelhouse +
manifest + report.

Modules, in the order the data flows through them: :mod:`.requirements` (parse the
inputs), :mod:`.plan` (a cache key per requirement x Python), :mod:`.steps` (what runs in
one session), :mod:`.repair` (auditwheel), :mod:`.wheelhouse` (atomic wheel writes),
:mod:`.results` and :mod:`.report` (summary table, report.json/html), :mod:`.run` (the
orchestration across prefixes) and :mod:`.shell` (the same environment, interactive).
"""

from __future__ import annotations

from wheelhub.build.run import build

__all__ = ["build"]
