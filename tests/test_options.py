from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from tests.support.cli import cli_runner
from wheelhub.cli import build_parser
from wheelhub.cli.options import resolved_from_args
from wheelhub.errors import ConfigError
from wheelhub.options import COMMANDS, ENV_PREFIX, BuildOptions, options_for, resolve


@pytest.fixture(autouse=True)
def _no_wheelhub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands read os.environ: settings of the machine running the tests stay out."""
    for name in [name for name in os.environ if name.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)


def test_precedence_defaults_file_env_cli(tmp_path: Path) -> None:
    (tmp_path / "wheelhub.yaml").write_text("image: from-file\njobs: 3\npython: cp311\n")
    config = resolve({"python": "cp312"}, env={"WHEELHUB_JOBS": "5"}, cwd=tmp_path)
    assert config.values["image"].value == "from-file"
    assert config.values["image"].source == "wheelhub.yaml"
    assert (config.get("jobs"), config.values["jobs"].source) == (5, "env WHEELHUB_JOBS")
    assert (config.get("python"), config.values["python"].source) == ("cp312", "command line")
    assert config.values["wheelhouse"].source == "default"


def test_unknown_keys_suggest_the_right_one(tmp_path: Path) -> None:
    (tmp_path / "wheelhub.yaml").write_text("imgae: x\n")
    with pytest.raises(ConfigError) as caught:
        resolve({}, env={}, cwd=tmp_path)
    assert "unknown option 'imgae'" in caught.value.message
    assert caught.value.hint == "did you mean 'image'?"
    with pytest.raises(ConfigError, match="WHEELHUB_JBOS"):
        resolve({}, env={"WHEELHUB_JBOS": "2"}, cwd=tmp_path / "none")


def test_bad_values_name_the_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="env WHEELHUB_JOBS: jobs='many' is not a whole number"):
        resolve({}, env={"WHEELHUB_JOBS": "many"}, cwd=tmp_path)
    (tmp_path / "wheelhub.yaml").write_text("jobs: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        resolve({}, env={}, cwd=tmp_path)


def test_recipes_and_default_files(tmp_path: Path) -> None:
    (tmp_path / "wheelhub.yaml").write_text(
        "recipes:\n  PyYAML:\n    source: true\n    env: {A: '1'}\n    skip-python: [cp36*]\n"
        "    exclude: [libfoo.so.1]\n")
    config = resolve({}, env={}, cwd=tmp_path)
    options = BuildOptions.from_config(config, cwd=tmp_path, env={"HOME": str(tmp_path)})
    recipe = options.recipes["pyyaml"]
    assert recipe.source and recipe.env == (("A", "1"),) and recipe.skip_python == ("cp36*",)
    # Default hook and build requirements are optional when absent.
    assert options.setup is None and options.build_requirements is None
    assert options.cache_dir == tmp_path / ".cache" / "wheelhub"
    (tmp_path / "wheelhub.yaml").write_text("recipes:\n  x:\n    sauce: true\n")
    with pytest.raises(ConfigError, match="recipes.x: unknown option 'sauce'") as caught:
        resolve({}, env={}, cwd=tmp_path)
    assert caught.value.hint == "did you mean 'source'?"


def test_later_stages_sit_in_sections_of_the_file(tmp_path: Path) -> None:
    (tmp_path / "wheelhub.yaml").write_text(
        "jobs: 3\npublish:\n  to: http://hub:8080/acme\n  jobs: 8\n  dry-run: true\n"
        "serve: {port: 9000, max_upload_size: 1G}\n")
    config = resolve({}, env={}, cwd=tmp_path)
    assert (config.get("jobs"), config.get("publish.jobs")) == (3, 8)  # two different options
    assert config.get("publish.to") == "http://hub:8080/acme"
    assert config.values["publish.dry_run"].value is True
    assert config.values["publish.dry_run"].source == "wheelhub.yaml"
    assert (config.get("serve.port"), config.get("serve.max_upload_size")) == (9000, 1024**3)
    (tmp_path / "wheelhub.yaml").write_text("publish:\n  job: 8\n")
    with pytest.raises(ConfigError, match="publish: unknown option 'job'") as caught:
        resolve({}, env={}, cwd=tmp_path)
    assert caught.value.hint == "did you mean 'jobs'?"


def test_env_names_of_sections_and_the_established_ones(tmp_path: Path) -> None:
    env = {"WHEELHUB_HUB": "http://hub/acme", "WHEELHUB_LABEL": "dev", "WHEELHUB_ROOT": "/srv",
           "WHEELHUB_PUBLISH_RETRIES": "0", "WHEELHUB_CI_PUBLISH_ON_FAILURE": "no",
           # not options, but WHEELHUB_* variables wheelhub reads: no "unknown option"
           "WHEELHUB_TOKEN": "secret", "WHEELHUB_HOST_PYTHON_ROOT": "/opt/python"}
    config = resolve({}, env=env, cwd=tmp_path)
    assert config.values["publish.to"].source == "env WHEELHUB_HUB"
    assert (config.get("publish.label"), config.get("serve.root")) == ("dev", "/srv")
    assert config.get("publish.retries") == 0  # retries may be 0, jobs may not
    assert config.get("ci.publish_on_failure") is False
    with pytest.raises(ConfigError, match="publish.jobs=0 must be at least 1"):
        resolve({}, env={"WHEELHUB_PUBLISH_JOBS": "0"}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="publish.kind='hubb' is not one of auto, hub"):
        resolve({"publish.kind": "hubb"}, env={}, cwd=tmp_path)


def test_directory_and_config_say_where_the_file_is(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "wheelhub.yaml").write_text("wheelhouse: out\n")
    (tmp_path / "other.yaml").write_text("wheelhouse: elsewhere\n")
    config = resolve({"directory": "checkout"}, env={}, cwd=tmp_path)
    assert config.directory == checkout
    assert config.values["wheelhouse"].value == "out"
    config = resolve({}, env={"WHEELHUB_CONFIG": "other.yaml"}, cwd=tmp_path)
    assert config.get("wheelhouse") == "elsewhere"
    assert config.values["config"].source == "env WHEELHUB_CONFIG"
    with pytest.raises(ConfigError, match="config file .* does not exist"):
        resolve({"config": "missing.yaml"}, env={}, cwd=tmp_path)
    (checkout / "wheelhub.yaml").write_text("directory: x\n")  # it cannot move itself
    with pytest.raises(ConfigError, match="unknown option 'directory'"):
        resolve({"directory": "checkout"}, env={}, cwd=tmp_path)


def _leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subparsers = [action for action in parser._actions
                  if isinstance(action, argparse._SubParsersAction)]
    if not subparsers:
        return [parser]
    return [leaf for child in subparsers[0].choices.values() for leaf in _leaf_parsers(child)]


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_takes_exactly_its_options(command: str) -> None:
    (commands,) = [action for action in build_parser()._actions
                   if isinstance(action, argparse._SubParsersAction)]
    for parser in _leaf_parsers(commands.choices[command]):
        taken = {action.dest for action in parser._actions if action.dest.startswith("option_")}
        assert taken == {spec.dest for spec in options_for(command)}, parser.prog


def test_publish_jobs_and_build_jobs_are_apart_on_the_command_line(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    monkeypatch.chdir(tmp_path)
    parser = build_parser()
    publish = resolved_from_args(parser.parse_args(["publish", "-j", "8", "--to", "file:///x"]))
    assert (publish.get("publish.jobs"), publish.get("jobs")) == (8, 2)
    ci = resolved_from_args(parser.parse_args(["ci", "-j", "3", "--no-publish-on-failure"]))
    assert (ci.get("jobs"), ci.get("publish.jobs"), ci.get("ci.publish_on_failure")) == (3, 4, False)


def test_config_command_shows_one_commands_options_with_their_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    run = cli_runner(monkeypatch, capsys, tmp_path, ("wheelhub.cli.config",))
    (tmp_path / "wheelhub.yaml").write_text("publish: {to: file:///srv/index}\n")
    result = run("config", "--command", "publish", "--json", env={"WHEELHUB_PUBLISH_JOBS": "6"})
    assert result.code == 0, result.err
    shown = json.loads(result.out)
    assert shown["publish.to"] == {"value": "file:///srv/index", "source": "wheelhub.yaml",
                                   "commands": ["ci", "publish"]}
    assert shown["publish.jobs"]["source"] == "env WHEELHUB_PUBLISH_JOBS"
    assert shown["wheelhouse"]["value"] == "wheelhouse"  # publish reads the build's wheelhouse
    assert "image" not in shown and "serve.port" not in shown
    everything = run("config")
    assert {"image", "publish.jobs", "ci.skip_tests", "serve.root"} <= {
        line.split()[0] for line in everything.out.splitlines()}


def test_top_level_test_is_every_packages_default_test(tmp_path: Path) -> None:
    from wheelhub.options import BuildOptions, TestOptions

    def test_options(text: str) -> TestOptions:
        (tmp_path / "wheelhub.yaml").write_text(text)
        config = resolve({}, env={}, cwd=tmp_path)
        return TestOptions.from_config(
            config, BuildOptions.from_config(config, cwd=tmp_path, env={}))

    assert test_options("python: cp311\n").default_test == ""
    assert test_options('test: python -c "import sys"\n').default_test == 'python -c "import sys"'
    with pytest.raises(ConfigError, match=r"wheelhub.yaml: test=\{'a': 1\} is not a command"):
        test_options("test: {a: 1}\n")


def test_summary_shows_platform_tags_short() -> None:
    from wheelhub.build.report import short_platform

    assert short_platform("manylinux_2_17_x86_64.manylinux2014_x86_64") == "manylinux_2_17"
    assert short_platform("manylinux2014_aarch64") == "manylinux2014"
    assert short_platform("musllinux_1_2_x86_64") == "musllinux_1_2"
    assert short_platform("any") == "any"
