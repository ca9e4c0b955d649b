"""``wheelhub plan``: what a build would do, entry by entry, and how it splits into shards.

Nothing is built or downloaded: each entry's verdict is ``local`` (the wheelhouse has it),
``remote`` (a cache has a record made from these inputs), ``relink`` (its own wheel stands,
only its dependency closure is made again), ``skip`` (a recipe skips this Python) or
``build``, with the time it took last (manifest, cache record) when known.
"""

from __future__ import annotations

from dataclasses import dataclass

from wheelhub.build.remote import candidates
from wheelhub.build.run import cache_sources, load_inputs, planned_build
from wheelhub.build.shards import Shard, check_count, split
from wheelhub.engines import make_engine
from wheelhub.engines.base import Engine
from wheelhub.options import BuildOptions


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanRow:
    project: str
    python: str
    key: str
    verdict: str  # local, remote, relink, skip, build
    origin: str = ""  # the cache of a remote verdict
    estimate: float | None = None  # seconds, when known
    shard: int = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanOverview:
    rows: tuple[PlanRow, ...]
    shards: tuple[tuple[str, ...], ...]  # the requirement projects of each shard

    def matrix(self) -> dict[str, list[dict[str, str]]]:
        """GitHub's matrix: one job per shard, each carrying its projects."""
        count = len(self.shards)
        return {"include": [{"shard": Shard(index=i, count=count, projects=projects).spec}
                            for i, projects in enumerate(self.shards, start=1)]}


def overview(options: BuildOptions, shards: int = 1, *,
             engine: Engine | None = None) -> PlanOverview:
    check_count(shards)
    sources = cache_sources(options)
    requirements, _build_requirements = load_inputs(options)
    built = planned_build(options, engine or make_engine(options), requirements,
                          sources=sources)
    plan, known = built.plan, built.known
    split_projects = split(plan, shards, known)
    shard_of = {p: i for i, projects in enumerate(split_projects, start=1) for p in projects}
    rows = []
    for planned in plan.entries:
        verdict, origin = "build", ""
        if planned.skip_reason:
            verdict = "skip"
        elif planned.cached is not None:
            verdict = "local"
        else:
            found = next(candidates(planned, plan, sources), None)
            if found is not None:
                verdict, origin = "remote", found[0].description
            elif planned.own_wheel is not None:
                verdict = "relink"
        rows.append(PlanRow(project=planned.line.project, python=planned.python.tag,
                            key=planned.key, verdict=verdict, origin=origin,
                            estimate=known.durations.get((planned.line.project,
                                                          planned.python.tag)),
                            shard=shard_of[planned.line.project]))
    return PlanOverview(rows=tuple(rows), shards=tuple(tuple(s) for s in split_projects))
