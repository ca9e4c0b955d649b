"""Shards: the plan split over N CI jobs (``--shards N``, ``--shard I/N``).

A requirement goes with every requirement of the list its dependency closure holds (as
the manifest or a cache record knows it), so a dependent builds against the list's wheel
of its dependency, never PyPI's; with no knowledge each requirement stands alone. Groups
are balanced by known durations (longest first onto the lightest shard), else by count.
Every Python of a requirement is in the same shard. The shards partition the plan:
their union is exactly the unsharded plan.

A shard job computes the split from what its machine knows; ``wheelhub plan --shards N
--matrix github`` writes each shard's projects into its spec (``2/4:a,b``) so every job of
a matrix builds exactly what the plan job decided, whatever the cache holds by then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from wheelhub.build.errors import ShardError
from wheelhub.build.plan import Plan


@dataclass(frozen=True, kw_only=True, slots=True)
class Shard:
    index: int  # 1-based
    count: int
    projects: tuple[str, ...] | None = None  # decided by the plan job; None: compute here

    @property
    def spec(self) -> str:
        tail = f":{','.join(self.projects)}" if self.projects is not None else ""
        return f"{self.index}/{self.count}{tail}"

    @classmethod
    def parse(cls, text: str, source: str = "--shard") -> Shard:
        head, colon, tail = text.strip().partition(":")
        index_text, slash, count_text = head.partition("/")
        if not slash or not index_text.isdigit() or not count_text.isdigit():
            raise ShardError.bad_spec(source, text)
        index, count = int(index_text), int(count_text)
        if count < 1 or not 1 <= index <= count:
            raise ShardError.out_of_range(source, text, count)
        projects = tuple(p for p in tail.split(",") if p) if colon else None
        return cls(index=index, count=count, projects=projects)


def check_count(count: int, source: str = "--shards") -> int:
    if count < 1:
        raise ShardError.bad_count(source, count)
    return count


@dataclass(frozen=True, kw_only=True, slots=True)
class Knowledge:
    """What this machine knows of an entry from earlier builds: (project, python) -> ..."""

    durations: Mapping[tuple[str, str], float]
    closures: Mapping[tuple[str, str], Sequence[str]]


def split(plan: Plan, count: int, knowledge: Knowledge) -> list[list[str]]:
    """The requirement projects of each shard (index 0 is shard 1), each sorted."""
    projects = sorted({e.line.project for e in plan.entries})
    parent = {p: p for p in projects}

    def root(project: str) -> str:
        while parent[project] != project:
            parent[project] = parent[parent[project]]
            project = parent[project]
        return project

    for (project, _python), closure in knowledge.closures.items():
        for dependency in closure:
            if project in parent and dependency in parent:
                parent[root(dependency)] = root(project)
    groups: dict[str, list[str]] = {}
    for project in projects:
        groups.setdefault(root(project), []).append(project)
    known = [d for d in knowledge.durations.values() if d > 0]
    unknown = sum(known) / len(known) if known else 1.0

    def weight(group: Sequence[str]) -> float:
        return sum(knowledge.durations.get((e.line.project, e.python.tag)) or unknown
                   for e in plan.entries if e.line.project in group)

    ordered = sorted(groups.values(), key=lambda g: (-weight(g), g[0]))
    shards: list[list[str]] = [[] for _ in range(count)]
    loads = [0.0] * count
    for group in ordered:
        lightest = min(range(count), key=lambda i: (loads[i], i))
        shards[lightest].extend(group)
        loads[lightest] += weight(group)
    return [sorted(s) for s in shards]


def only_shard(plan: Plan, shard: Shard, knowledge: Knowledge) -> Plan:
    """*plan* with only the entries of *shard*."""
    if shard.projects is not None:
        unknown = sorted(set(shard.projects) - {e.line.project for e in plan.entries})
        if unknown:
            raise ShardError.unknown_projects(shard.spec, unknown)
        mine = set(shard.projects)
    else:
        mine = set(split(plan, shard.count, knowledge)[shard.index - 1])
    return replace(plan, entries=tuple(e for e in plan.entries if e.line.project in mine))
