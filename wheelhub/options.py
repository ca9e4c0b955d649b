"""Layered options: shipped defaults < ``wheelhub.yaml`` < ``WHEELHUB_*`` env < CLI.

Every option is declared once in :data:`OPTIONS`; the CLI flags, env names, YAML keys
and ``wheelhub config`` output all derive from that table. Unknown keys are rejected
with a "did you mean". The result is resolved once into frozen dataclasses.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from packaging.utils import canonicalize_name

from wheelhub.errors import ConfigError

DEFAULT_IMAGE = "quay.io/pypa/manylinux_2_28_x86_64"
CONFIG_FILE = "wheelhub.yaml"
ENV_PREFIX = "WHEELHUB_"

Kind = Literal["str", "int", "bool", "path"]


@dataclass(frozen=True, kw_only=True, slots=True)
class OptionSpec:
    name: str
    kind: Kind
    default: Any
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(name="requirements", kind="path", default="requirements.txt",
               help="requirements file to build (pip syntax, -r/-c includes)"),
    OptionSpec(name="build_requirements", kind="path", default="requirements-build.txt",
               help="installed before building and used as constraints for isolated builds "
               "('' for none; the default is skipped when absent)"),
    OptionSpec(name="setup", kind="path", default="build-setup.sh",
               help="setup hook sourced once per container before any build "
               "('' for none; the default is skipped when absent)"),
    OptionSpec(name="python", kind="str", default="all",
               help="Python prefixes: tags (cp311,cp312), 'all', or globs ('cp31*')"),
    OptionSpec(name="image", kind="str", default=DEFAULT_IMAGE,
               help="manylinux build image; a local image is used as is, never pulled"),
    OptionSpec(name="engine", kind="str", default="docker",
               help="where builds run: 'docker', or 'host' inside a manylinux container"),
    OptionSpec(name="jobs", kind="int", default=2, help="Python prefixes built in parallel"),
    OptionSpec(name="wheelhouse", kind="path", default="wheelhouse",
               help="output directory for wheels, manifest, logs and reports"),
    OptionSpec(name="network", kind="str", default="",
               help="Docker network mode for build containers ('host' where there is "
               "no bridge networking); default: Docker's"),
    OptionSpec(name="ca_bundle", kind="path", default="",
               help="CA bundle passed into the container so pip, curl and yum/apt trust "
               "a corporate proxy"),
    OptionSpec(name="no_binary", kind="str", default="",
               help="pip --no-binary for builds: ':all:' or project names (comma-separated)"),
    OptionSpec(name="only_binary", kind="str", default="",
               help="pip --only-binary for builds: ':all:' or project names"),
    OptionSpec(name="plat", kind="str", default="",
               help="auditwheel platform; default: the image's AUDITWHEEL_PLAT"),
    OptionSpec(name="keep_container", kind="bool", default=False,
               help="keep build containers after the build (for debugging)"),
    OptionSpec(name="cache_dir", kind="path", default="",
               help="host directory for pip/ccache caches mounted into containers "
               "(default: $XDG_CACHE_HOME/wheelhub)"),
    OptionSpec(name="force", kind="bool", default=False,
               help="rebuild everything, ignoring the manifest's cache"),
    OptionSpec(name="runtime_image", kind="str", default="python:{version}-slim",
               help="image `wheelhub test` installs wheels into (no compiler, no -dev libs): "
               "a template with {version} (3.11), or one image with the /opt/python/<tag> layout"),
)
OPTION_NAMES = tuple(spec.name for spec in OPTIONS)
_SPECS = {spec.name: spec for spec in OPTIONS}
# Keys of wheelhub.yaml that are not plain options.
_EXTRA_FILE_KEYS = ("recipes", "test", "publish", "labels")


@dataclass(frozen=True, kw_only=True, slots=True)
class Recipe:
    """Per-package build settings from ``wheelhub.yaml`` (``recipes: {name: {...}}``)."""

    project: str
    setup: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    source: bool = False
    exclude: tuple[str, ...] = ()
    skip_python: tuple[str, ...] = ()
    test: str = ""

    def digest(self) -> str:
        payload = json.dumps([self.setup, self.env, self.source, self.exclude], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


_RECIPE_KEYS = ("setup", "env", "source", "exclude", "skip_python", "test")


@dataclass(frozen=True, kw_only=True, slots=True)
class ResolvedValue:
    value: Any
    source: str  # "default", "wheelhub.yaml", "env WHEELHUB_X", "command line"


@dataclass(frozen=True, kw_only=True, slots=True)
class ResolvedConfig:
    values: Mapping[str, ResolvedValue]
    recipes: Mapping[str, Recipe] = field(default_factory=dict)
    file_sections: Mapping[str, Any] = field(default_factory=dict)
    config_path: Path | None = None

    def get(self, name: str) -> Any:
        return self.values[name].value


def _coerce(spec: OptionSpec, raw: Any, source: str) -> Any:
    if spec.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{source}: {spec.name}={raw!r} is not a boolean",
                          hint="use true or false")
    if spec.kind == "int":
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: {spec.name}={raw!r} is not a whole number",
                              hint=f"for example {spec.name}: {spec.default}") from None
        if value < 1:
            raise ConfigError(f"{source}: {spec.name}={value} must be at least 1")
        return value
    if isinstance(raw, list):
        return ",".join(str(item) for item in raw)
    return "" if raw is None else str(raw)


def _load_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(error, 'problem', error)}",
                          hint="fix the syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of option: value")
    return {str(key).replace("-", "_"): value for key, value in data.items()}


def _parse_recipes(raw: Any, path: Path) -> dict[str, Recipe]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: recipes must map project names to settings")
    recipes: dict[str, Recipe] = {}
    for name, body in raw.items():
        where = f"{path}: recipes.{name}"
        body = {str(k).replace("-", "_"): v for k, v in (body or {}).items()}
        for key in body:
            if key not in _RECIPE_KEYS:
                raise ConfigError.unknown_key(key, where, _RECIPE_KEYS)
        env = body.get("env") or {}
        if not isinstance(env, dict):
            raise ConfigError(f"{where}.env must be a mapping of NAME: value")
        recipes[canonicalize_name(str(name))] = Recipe(
            project=canonicalize_name(str(name)),
            setup=tuple(_as_list(body.get("setup"))),
            env=tuple(sorted((str(k), str(v)) for k, v in env.items())),
            source=bool(body.get("source", False)),
            exclude=tuple(_as_list(body.get("exclude"))),
            skip_python=tuple(_as_list(body.get("skip_python"))),
            test=str(body.get("test") or ""),
        )
    return recipes


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value]


def resolve(cli: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
            config_path: Path | None = None, cwd: Path | None = None) -> ResolvedConfig:
    """Resolve every option from the four layers. ``cli`` holds only flags actually given."""
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    explicit_config = config_path is not None
    config_path = config_path or cwd / CONFIG_FILE
    file_values: dict[str, Any] = {}
    if config_path.is_file():
        file_values = _load_file(config_path)
    elif explicit_config:
        raise ConfigError(f"config file '{config_path}' does not exist",
                          hint="check --config, or drop it to use ./wheelhub.yaml")
    for key in file_values:
        if key not in _SPECS and key not in _EXTRA_FILE_KEYS:
            raise ConfigError.unknown_key(key, str(config_path), OPTION_NAMES + _EXTRA_FILE_KEYS)
    for key in env:
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX):].lower() not in _SPECS:
            name = key[len(ENV_PREFIX):].lower()
            if name not in _ENV_ONLY:
                raise ConfigError.unknown_key(key, "environment",
                                              [s.env for s in OPTIONS] + list(_ENV_ONLY_VARS))
    values: dict[str, ResolvedValue] = {}
    for spec in OPTIONS:
        value, source = spec.default, "default"
        if spec.name in file_values:
            value, source = file_values[spec.name], config_path.name
        if spec.env in env:
            value, source = env[spec.env], f"env {spec.env}"
        if cli.get(spec.name) is not None:
            value, source = cli[spec.name], "command line"
        values[spec.name] = ResolvedValue(value=_coerce(spec, value, source), source=source)
    return ResolvedConfig(
        values=values,
        recipes=_parse_recipes(file_values.get("recipes"), config_path),
        file_sections={k: file_values[k] for k in _EXTRA_FILE_KEYS if k in file_values},
        config_path=config_path if config_path.is_file() else None,
    )


# WHEELHUB_* variables that are not build options (tokens, hub settings) and must not be
# rejected as typos.
_ENV_ONLY_VARS = ("WHEELHUB_TOKEN", "WHEELHUB_HUB", "WHEELHUB_URL", "WHEELHUB_ROOT",
                  "WHEELHUB_LABEL", "WHEELHUB_OWNER", "WHEELHUB_CONFIG")
_ENV_ONLY = tuple(v[len(ENV_PREFIX):].lower() for v in _ENV_ONLY_VARS)


def default_cache_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".cache")
    return Path(base) / "wheelhub"


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildOptions:
    """Everything one build needs, resolved and validated. Paths are absolute."""

    project_dir: Path
    requirements: Path
    build_requirements: Path | None
    setup: Path | None
    python: str
    image: str
    engine: str
    jobs: int
    wheelhouse: Path
    network: str | None
    ca_bundle: Path | None
    no_binary: tuple[str, ...] = ()
    only_binary: tuple[str, ...] = ()
    plat: str | None = None
    keep_container: bool = False
    cache_dir: Path
    force: bool = False
    recipes: Mapping[str, Recipe] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: ResolvedConfig, *, cwd: Path,
                    env: Mapping[str, str]) -> BuildOptions:
        def path_of(name: str, *, optional_default: bool) -> Path | None:
            raw = config.get(name)
            if raw == "":
                return None
            path: Path = (cwd / str(raw)).resolve()
            # A default file that does not exist is simply not used; an explicit one must exist.
            if optional_default and config.values[name].source == "default" and not path.exists():
                return None
            return path

        engine = config.get("engine")
        if engine not in {"docker", "host"}:
            raise ConfigError(f"{config.values['engine'].source}: engine={engine!r} is unknown",
                              hint="use 'docker' or 'host'")
        cache_raw = config.get("cache_dir")
        return cls(
            project_dir=cwd,
            requirements=(cwd / config.get("requirements")).resolve(),
            build_requirements=path_of("build_requirements", optional_default=True),
            setup=path_of("setup", optional_default=True),
            python=config.get("python"),
            image=config.get("image"),
            engine=engine,
            jobs=config.get("jobs"),
            wheelhouse=(cwd / config.get("wheelhouse")).resolve(),
            network=config.get("network") or None,
            ca_bundle=path_of("ca_bundle", optional_default=False),
            no_binary=_split(config.get("no_binary")),
            only_binary=_split(config.get("only_binary")),
            plat=config.get("plat") or None,
            keep_container=config.get("keep_container"),
            cache_dir=(cwd / cache_raw).resolve() if cache_raw else default_cache_dir(env),
            force=config.get("force"),
            recipes=config.recipes,
        )


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True, kw_only=True, slots=True)
class TestOptions:
    """What ``wheelhub test`` needs; built from the same layered options as ``build``."""

    __test__: ClassVar[bool] = False  # not a pytest test class

    wheelhouse: Path
    project_dir: Path
    python: str = "all"
    runtime_image: str = "python:{version}-slim"
    jobs: int = 2
    recipes: Mapping[str, Recipe] = field(default_factory=dict)
    keep_container: bool = False

    @classmethod
    def from_config(cls, config: ResolvedConfig, build: BuildOptions) -> TestOptions:
        return cls(wheelhouse=build.wheelhouse, project_dir=build.project_dir, python=build.python,
                   runtime_image=str(config.get("runtime_image")), jobs=build.jobs,
                   recipes=build.recipes, keep_container=build.keep_container)
