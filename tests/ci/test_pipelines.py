"""The CI files shipped in the repo run commands that exist, with options that exist."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from wheelhub.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def wheelhub_commands(text: str) -> list[list[str]]:
    commands = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("wheelhub "):
            commands.append(shlex.split(line.split(" > ", 1)[0])[1:])  # without a redirection
    return commands


def github_runs() -> list[str]:
    workflow: dict[str, Any] = yaml.safe_load((ROOT / ".github/workflows/wheels.yml").read_text())
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def action_runs() -> list[str]:
    action: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text())
    return [step["run"] for step in action["runs"]["steps"] if "run" in step]


def travis_runs() -> list[str]:
    travis: dict[str, Any] = yaml.safe_load((ROOT / ".travis.yml").read_text())
    return [*travis["script"], *(line for job in travis["jobs"]["include"]
                                 for line in job.get("script", ()))]


def readme_gitlab_runs() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("GitLab CI:", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    gitlab: dict[str, Any] = yaml.safe_load(block)
    return [line for job in gitlab.values() if isinstance(job, dict)
            for line in job.get("script", ())]


def test_github_workflow_triggers_on_every_branch_and_tag() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/wheels.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as True
    assert triggers["push"]["branches"] == ["**"]
    assert triggers["push"]["tags"] == ["*"]


def test_github_workflow_is_plan_then_shards_then_merge() -> None:
    jobs = yaml.safe_load((ROOT / ".github/workflows/wheels.yml").read_text())["jobs"]
    assert list(jobs) == ["plan", "wheels", "merge"]
    assert "--matrix github" in "\n".join(s.get("run", "") for s in jobs["plan"]["steps"])
    assert jobs["wheels"]["needs"] == "plan"
    assert jobs["wheels"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    shard_step = next(s for s in jobs["wheels"]["steps"] if s.get("uses") == "./")
    assert shard_step["with"]["shard"] == "${{ matrix.shard }}"
    assert set(shard_step["with"]) == {"hub", "token", "shard"}
    assert jobs["merge"]["needs"] == "wheels" and jobs["merge"]["if"] == "always()"
    for job in ("plan", "merge"):
        env = next(s["env"] for s in jobs[job]["steps"] if "env" in s)
        assert set(env) == {"WHEELHUB_HUB", "WHEELHUB_TOKEN"}
        assert all("secrets." in value for value in env.values())
    for job in ("wheels", "merge"):
        assert any(s.get("uses", "").startswith("actions/upload-artifact")
                   for s in jobs[job]["steps"])


def test_the_action_has_the_inputs_a_workflow_passes() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert set(action["inputs"]) == {"requirements", "python", "image", "hub", "token", "shard",
                                     "cache-from", "merge"}
    assert action["runs"]["using"] == "composite"


def test_travis_runs_with_docker() -> None:
    travis = yaml.safe_load((ROOT / ".travis.yml").read_text())
    assert "docker" in travis["services"]


@pytest.mark.parametrize("source", ["github", "action", "travis", "gitlab"])
def test_every_wheelhub_command_parses(source: str) -> None:
    runs = {"github": github_runs, "action": action_runs, "travis": travis_runs,
            "gitlab": readme_gitlab_runs}[source]()
    commands = wheelhub_commands("\n".join(runs))
    assert commands, f"{source} runs no wheelhub command"
    parser = build_parser()
    for argv in commands:
        args = parser.parse_args(argv)  # exits (fails the test) on an unknown command/option
        assert args.command == argv[0]
