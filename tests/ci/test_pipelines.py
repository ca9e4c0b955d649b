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
            commands.append(shlex.split(line)[1:])
    return commands


def github_runs() -> list[str]:
    workflow: dict[str, Any] = yaml.safe_load((ROOT / ".github/workflows/wheels.yml").read_text())
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def test_github_workflow_triggers_on_every_branch_and_tag() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/wheels.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as True
    assert triggers["push"]["branches"] == ["**"]
    assert triggers["push"]["tags"] == ["*"]
    steps = workflow["jobs"]["wheels"]["steps"]
    env = next(s["env"] for s in steps if "env" in s)
    assert set(env) == {"WHEELHUB_HUB", "WHEELHUB_TOKEN"}
    assert all("secrets." in value for value in env.values())
    assert any(s.get("uses", "").startswith("actions/upload-artifact") for s in steps)


def test_travis_runs_with_docker() -> None:
    travis = yaml.safe_load((ROOT / ".travis.yml").read_text())
    assert "docker" in travis["services"]


@pytest.mark.parametrize("source", ["github", "travis"])
def test_every_wheelhub_command_parses(source: str) -> None:
    if source == "github":
        text = "\n".join(github_runs())
    else:
        text = "\n".join(yaml.safe_load((ROOT / ".travis.yml").read_text())["script"])
    commands = wheelhub_commands(text)
    assert commands, f"{source} runs no wheelhub command"
    parser = build_parser()
    for argv in commands:
        args = parser.parse_args(argv)  # exits (fails the test) on an unknown command/option
        assert args.command == argv[0]
