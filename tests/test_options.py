from __future__ import annotations

from pathlib import Path

import pytest

from wheelhub.errors import ConfigError
from wheelhub.options import BuildOptions, resolve


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
