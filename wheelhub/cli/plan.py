"""``wheelhub plan``: what a build would do, and how it splits over CI jobs."""

from __future__ import annotations

import argparse
import json

from wheelhub.cli.options import build_options_from_args, resolved_from_args

HELP = "show what a build would do per entry (local, remote, relink, build) and its shards"
DESCRIPTION = (
    "For every requirement × Python: the input key, the verdict (local: in the wheelhouse; "
    "remote: a --cache-from has it; relink: its own wheel stands, only its dependency closure "
    "is made again; build), and the time it took last when known. "
    "--shards N splits the plan for N CI jobs (dependents stay with their dependencies, "
    "balanced by known durations); --matrix github prints the shards as one line of JSON "
    "for fromJSON() in a job matrix, each shard carrying its projects.")


def run(args: argparse.Namespace) -> int:
    from wheelhub.build.overview import overview
    from wheelhub.util import table

    config = resolved_from_args(args)
    shards = config.get("plan.shards")
    result = overview(build_options_from_args(args), shards)
    if config.get("plan.matrix") == "github":
        print(json.dumps(result.matrix(), separators=(",", ":")))
        return 0
    header = ["entry", "key", "verdict", "estimate", *(["shard"] if shards > 1 else [])]
    rows = [[f"{r.project} [{r.python}]", r.key[:12],
             f"remote ({r.origin})" if r.origin else r.verdict,
             "?" if r.estimate is None else f"{r.estimate:.1f}s",
             *([f"{r.shard}/{shards}"] if shards > 1 else [])] for r in result.rows]
    print("\n".join(table.render(header, rows)))
    counts = {v: sum(1 for r in result.rows if r.verdict == v)
              for v in ("local", "remote", "relink", "build", "skip")}
    print(", ".join(f"{n} {v}" for v, n in counts.items()))
    return 0
