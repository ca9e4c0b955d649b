"""Layered options: shipped defaults < ``wheelhub.yaml`` < ``WHEELHUB_*`` env < CLI.

Every option of every command is declared once in :data:`OPTIONS`, with the commands that
read it; each command's flags, the env names, the YAML keys and ``wheelhub config`` all
derive from that table. Build options are top-level keys of ``wheelhub.yaml``; the options
of the later stages sit in a section (``publish: {jobs: 8}``) and their variable carries
its name (``WHEELHUB_PUBLISH_JOBS``), except where an established name is kept
(``WHEELHUB_HUB``, ``WHEELHUB_LABEL``, ``WHEELHUB_ROOT``). Unknown keys are rejected with
a "did you mean". The result is resolved once into frozen dataclasses.

Operands that name what one action works on (``token create --owner``, ``label copy
SOURCE TARGET``, ``shell --package``) are not settings: they stay with their command.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from packaging.utils import canonicalize_name

from wheelhub.errors import ConfigError

DEFAULT_IMAGE = "quay.io/pypa/manylinux_2_28_x86_64"
FRONTENDS = ("auto", "pip", "build", "build[uv]")  # --frontend
CONFIG_FILE = "wheelhub.yaml"
ENV_PREFIX = "WHEELHUB_"

Kind = Literal["str", "int", "bool", "path", "size"]


@dataclass(frozen=True, kw_only=True, slots=True)
class OptionSpec:
    name: str  # the wheelhub.yaml key: "jobs", or "publish.jobs" inside a section
    kind: Kind
    default: Any
    help: str
    commands: frozenset[str]  # the commands that read it (and take its flags)
    flags: tuple[str, ...] = ()  # default: --<key>
    env_name: str = ""  # default: WHEELHUB_<NAME>, '.' as '_'
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    minimum: int = 1  # for int options
    in_file: bool = True  # False for the options that say where wheelhub.yaml is
    repeat: bool = False  # the flag may be given more than once (values joined by ',')

    @property
    def section(self) -> str:
        return self.name.rpartition(".")[0]

    @property
    def key(self) -> str:
        """The name inside its section."""
        return self.name.rpartition(".")[2]

    @property
    def env(self) -> str:
        return self.env_name or ENV_PREFIX + self.name.replace(".", "_").upper()

    @property
    def cli_flags(self) -> tuple[str, ...]:
        return self.flags or ("--" + self.key.replace("_", "-"),)

    @property
    def dest(self) -> str:
        """The argparse destination, apart from every operand's."""
        return "option_" + self.name.replace(".", "_")


# build, test and shell read one option set, so one command line or wheelhub.yaml serves
# all three; ci runs build and test; config takes their flags to show what they change.
_BUILDING = frozenset({"build", "test", "shell", "ci", "config", "plan"})
_PUBLISHING = frozenset({"publish", "ci"})
_LABELLING = _PUBLISHING | {"label-for"}
_HUB = frozenset({"serve", "token", "label", "owner", "audit", "webhook", "db"})
_HUB_CLIENTS = frozenset({"label", "audit", "webhook"})  # local (--root) or remote (--url)
_KNOWING = frozenset({"graph", "outdated"})  # read what was built / what the index has

OPTIONS: tuple[OptionSpec, ...] = (
    # -- where the configuration is (command line and environment only)
    OptionSpec(name="directory", kind="path", default=".", flags=("-C", "--directory"),
               in_file=False, commands=frozenset({"publish", "label-for"}),
               help="the checkout to work in: its wheelhub.yaml, git branch and relative paths"),
    OptionSpec(name="config", kind="path", default="", in_file=False,
               commands=_BUILDING | _LABELLING | _HUB | _KNOWING,
               help="configuration file (default: wheelhub.yaml in the directory, if present)"),
    # -- build (and test, shell)
    OptionSpec(name="requirements", kind="path", default="requirements.txt",
               flags=("-r", "--requirements"), commands=_BUILDING | {"outdated"},
               help="requirements file to build (pip syntax, -r/-c includes)"),
    OptionSpec(name="build_requirements", kind="path", default="requirements-build.txt",
               flags=("-b", "--build-requirements"), commands=_BUILDING,
               help="installed before building and used as constraints for isolated builds "
               "('' for none; the default is skipped when absent)"),
    OptionSpec(name="setup", kind="path", default="build-setup.sh", commands=_BUILDING,
               help="setup hook sourced once per container before any build "
               "('' for none; the default is skipped when absent)"),
    OptionSpec(name="python", kind="str", default="all", commands=_BUILDING | {"graph"},
               help="Python prefixes: tags (cp311,cp312), 'all', or globs ('cp31*')"),
    OptionSpec(name="image", kind="str", default=DEFAULT_IMAGE, commands=_BUILDING,
               help="manylinux build image; a local image is used as is, never pulled"),
    OptionSpec(name="engine", kind="str", default="docker", commands=_BUILDING | {"cache"},
               help="where builds, tests and shells run: 'docker', 'podman', or 'host' "
               "inside a manylinux container (tests then use docker)"),
    OptionSpec(name="jobs", kind="int", default=2, flags=("-j", "--jobs"),
               commands=_BUILDING,
               help="CPU slots for the whole run: prefixes, and packages within a prefix "
               "(after their dependencies), built in parallel; MAKEFLAGS=-jN"),
    OptionSpec(name="frontend", kind="str", default="auto", choices=FRONTENDS,
               commands=_BUILDING,
               help="build frontend: 'pip' (pip wheel: the package and its dependency "
               "closure), 'build' or 'build[uv]' (the sdist alone via pypa/build; uv makes "
               "the isolated environments; list every dependency to build in the requirements), "
               "'auto' (pip's choices and closure, but a pinned sdist pip would build is "
               "built by uv build; pip itself with --hermetic or --engine host)"),
    OptionSpec(name="wheelhouse", kind="path", default="wheelhouse", flags=("-w", "--wheelhouse"),
               commands=_BUILDING | {"publish", "graph"},
               help="the wheelhouse: wheels, manifest, logs and reports"),
    OptionSpec(name="network", kind="str", default="", commands=_BUILDING,
               help="Docker network mode for build containers ('host' where there is "
               "no bridge networking); default: Docker's"),
    OptionSpec(name="ca_bundle", kind="path", default="", commands=_BUILDING,
               help="CA bundle passed into the container so pip, curl and yum/apt trust "
               "a corporate proxy"),
    OptionSpec(name="no_binary", kind="str", default="", commands=_BUILDING,
               help="pip --no-binary for builds: ':all:' or project names (comma-separated)"),
    OptionSpec(name="only_binary", kind="str", default="", commands=_BUILDING,
               help="pip --only-binary for builds: ':all:' or project names"),
    OptionSpec(name="plat", kind="str", default="", commands=_BUILDING,
               help="auditwheel platform; default: the image's AUDITWHEEL_PLAT"),
    OptionSpec(name="keep_container", kind="bool", default=False, commands=_BUILDING,
               help="keep build containers after the build (for debugging)"),
    OptionSpec(name="cache_dir", kind="path", default="", commands=_BUILDING | {"cache"},
               help="host directory for pip/ccache caches mounted into containers "
               "(default: $XDG_CACHE_HOME/wheelhub)"),
    OptionSpec(name="cache.keep", kind="int", default=10, minimum=0, metavar="N",
               commands=_BUILDING | {"cache"},
               help="prepared snapshots kept, most recently used first; a build prunes the "
               "rest when it ends"),
    OptionSpec(name="cache.max_size", kind="size", default="0", metavar="SIZE",
               commands=_BUILDING | {"cache"},
               help="total size of prepared snapshots kept (20G); 0: no limit"),
    OptionSpec(name="memory", kind="size", default="0", metavar="SIZE", commands=_BUILDING,
               help="memory limit of build and test containers (4G, 512M; swap included), "
               "so a compile that needs more is killed alone, reported as out of memory; "
               "0: no limit"),
    OptionSpec(name="ccache", kind="bool", default=True, flags=("--no-ccache",),
               commands=_BUILDING,
               help="do not put C/C++ compilers behind ccache (default: a pinned ccache, "
               "fetched once, caches compiles in the cache directory for every later build)"),
    OptionSpec(name="force", kind="bool", default=False, commands=_BUILDING,
               help="rebuild everything, ignoring the manifest's cache"),
    OptionSpec(name="hermetic", kind="bool", default=False, commands=_BUILDING,
               help="fetch every sdist, wheel and build backend on the host first (hashes "
               "locked in the manifest), then build with no network (--network none); "
               "requirements must be pinned and complete"),
    OptionSpec(name="runtime_image", kind="str", default="python:{version}-slim",
               commands=_BUILDING,
               help="image `wheelhub test` installs wheels into (no compiler, no -dev libs): "
               "a template with {version} (3.11), or one image with the /opt/python/<tag> layout"),
    OptionSpec(name="cache_from", kind="str", default="", metavar="URL", repeat=True,
               commands=_BUILDING,
               help="remote build cache to download from instead of building: a hub URL with "
               "the owner or file:///DIR (repeatable; comma-separated in env/yaml)"),
    OptionSpec(name="cache_token_env", kind="str", default="WHEELHUB_TOKEN", metavar="VAR",
               commands=_BUILDING,
               help="environment variable holding a token that may read the cache "
               "(read scope suffices)"),
    OptionSpec(name="shard", kind="str", default="", metavar="I/N",
               commands=frozenset({"build", "ci", "config"}),
               help="build only shard I of N (see `wheelhub plan --shards N`)"),
    # -- plan
    OptionSpec(name="plan.shards", kind="int", default=1, commands=frozenset({"plan"}),
               help="split the plan into this many shards"),
    OptionSpec(name="plan.matrix", kind="str", default="", choices=("", "github"),
               commands=frozenset({"plan"}),
               help="print the shards as one line of JSON for a CI matrix "
               "(github: {\"include\": [{\"shard\": ...}]}, for fromJSON())"),
    # -- publish
    OptionSpec(name="publish.to", kind="str", default="", env_name="WHEELHUB_HUB",
               metavar="URL", commands=_PUBLISHING,
               help="where to publish: a hub URL with the owner, a twine-compatible index, "
               "anaconda.org or file:///DIR"),
    OptionSpec(name="publish.label", kind="str", default="auto", env_name="WHEELHUB_LABEL",
               commands=_LABELLING, help="'auto' (from the branch) or a label name"),
    OptionSpec(name="publish.token_env", kind="str", default="", metavar="VAR",
               commands=_PUBLISHING,
               help="environment variable holding the upload token "
               "(default: the target kind's, see `wheelhub publish --help`)"),
    OptionSpec(name="publish.allow_untested", kind="bool", default=False, commands=_PUBLISHING,
               help="also publish wheels without a test result (never failed ones)"),
    OptionSpec(name="publish.username", kind="str", default="__token__",
               commands=frozenset({"publish"}), help="user name sent with the token"),
    OptionSpec(name="publish.kind", kind="str", default="auto",
               choices=("auto", "hub", "index", "anaconda", "dir"),
               commands=frozenset({"publish"}),
               help="target kind (default: from --to, probing for a hub)"),
    OptionSpec(name="publish.jobs", kind="int", default=4, flags=("-j", "--jobs"),
               commands=frozenset({"publish"}), help="concurrent uploads"),
    OptionSpec(name="publish.retries", kind="int", default=3, minimum=0,
               commands=frozenset({"publish"}),
               help="retries of a transient failure per file"),
    OptionSpec(name="publish.dry_run", kind="bool", default=False,
               commands=frozenset({"publish"}),
               help="read the target and say what would be uploaded"),
    # -- ci
    OptionSpec(name="ci.skip_tests", kind="bool", default=False, commands=frozenset({"ci"}),
               help="do not run `wheelhub test` (publishes untested wheels)"),
    OptionSpec(name="ci.publish_on_failure", kind="bool", default=True,
               flags=("--no-publish-on-failure",), commands=frozenset({"ci"}),
               help="publish nothing if any build or test failed "
               "(default: publish what passed, then exit non-zero)"),
    OptionSpec(name="ci.cache_from_target", kind="bool", default=True,
               flags=("--no-cache-from",), commands=frozenset({"ci"}),
               help="do not use the hub (or static tree) published to as the build cache "
               "(default: use it)"),
    OptionSpec(name="ci.merge", kind="bool", default=False, flags=("--merge",),
               commands=frozenset({"ci"}),
               help="final job of a sharded run: gather the label's entries from the target's "
               "cache records into one manifest and report; non-zero if any is missing"),
    # -- outdated
    OptionSpec(name="outdated.index_url", kind="str", default="https://pypi.org/simple/",
               env_name="PIP_INDEX_URL", flags=("-i", "--index-url"), metavar="URL",
               commands=frozenset({"outdated"}),
               help="simple index asked for newer versions (pip's PIP_INDEX_URL; a hub label's "
               "/simple/ URL works too)"),
    OptionSpec(name="outdated.pre", kind="bool", default=False, commands=frozenset({"outdated"}),
               help="consider pre-releases too"),
    # -- the hub
    OptionSpec(name="serve.root", kind="path", default="", env_name="WHEELHUB_ROOT",
               metavar="DIR", commands=_HUB, help="the hub's data directory"),
    OptionSpec(name="hub.url", kind="str", default="", env_name="WHEELHUB_URL", metavar="URL",
               commands=_HUB_CLIENTS,
               help="manage the hub at this URL (http://hub:8080) through its API with an admin "
               "token, instead of its files under --root"),
    OptionSpec(name="hub.token_env", kind="str", default="WHEELHUB_TOKEN", metavar="VAR",
               commands=_HUB_CLIENTS, help="environment variable holding the admin token for --url"),
    OptionSpec(name="serve.database", kind="str", default="", env_name="WHEELHUB_DATABASE",
               metavar="URL", commands=frozenset({"serve"}),
               help="keep the hub's metadata in this PostgreSQL database "
               "(postgresql://USER@HOST/DB; the root remembers it) instead of SQLite under --root"),
    OptionSpec(name="db.to", kind="str", default="", metavar="URL", commands=frozenset({"db"}),
               help="the empty PostgreSQL database to copy the hub into (postgresql://...)"),
    OptionSpec(name="serve.static_dir", kind="path", default="", metavar="DIR",
               commands=frozenset({"serve"}),
               help="write public labels' pages and files here after every change, for a "
               "web server in front (deploy/nginx.conf); the root remembers it"),
    OptionSpec(name="serve.workers", kind="int", default=1, minimum=1,
               commands=frozenset({"serve"}),
               help="worker processes on one port (more than 1 needs --database)"),
    OptionSpec(name="serve.host", kind="str", default="127.0.0.1", commands=frozenset({"serve"}),
               help="address to bind"),
    OptionSpec(name="serve.port", kind="int", default=8080, commands=frozenset({"serve"}),
               help="port"),
    OptionSpec(name="serve.max_upload_size", kind="size", default="256M", metavar="SIZE",
               commands=frozenset({"serve"}),
               help="largest accepted upload (500M, 2G, 1048576); bigger ones get 413"),
    OptionSpec(name="serve.max_unpacked_size", kind="size", default="2G", metavar="SIZE",
               commands=frozenset({"serve"}),
               help="largest total unpacked size of an archive (zip bomb guard)"),
    OptionSpec(name="serve.create_labels", kind="bool", default=True,
               flags=("--no-create-labels",), commands=frozenset({"serve"}),
               help="refuse uploads to labels that do not exist yet "
               "(default: an upload with a matching token creates the label)"),
    OptionSpec(name="serve.access_log", kind="bool", default=False, commands=frozenset({"serve"}),
               help="log every request (tokens in paths are masked)"),
    OptionSpec(name="serve.header_timeout", kind="int", default=10, metavar="SECONDS",
               commands=frozenset({"serve"}),
               help="close a connection whose request line and headers take longer"),
    OptionSpec(name="serve.body_timeout", kind="int", default=30, metavar="SECONDS",
               commands=frozenset({"serve"}),
               help="408 for a request body silent this long, or slower than 1 KiB/s after it"),
    OptionSpec(name="serve.keep_alive_timeout", kind="int", default=5, metavar="SECONDS",
               commands=frozenset({"serve"}), help="close idle keep-alive connections after"),
    OptionSpec(name="serve.webhook_timeout", kind="int", default=5, metavar="SECONDS",
               commands=frozenset({"serve"}),
               help="seconds a webhook receiver has to answer (deliveries never hold up requests)"),
    OptionSpec(name="serve.webhook_attempts", kind="int", default=6, minimum=1,
               commands=frozenset({"serve"}),
               help="tries per webhook delivery, 2s apart and doubling, before it is marked failed"),
    OptionSpec(name="serve.max_connections", kind="int", default=1000,
               commands=frozenset({"serve"}), help="open connections; more are closed at once"),
    OptionSpec(name="serve.upstream_ttl", kind="int", default=600, minimum=0, metavar="SECONDS",
               commands=frozenset({"serve"}),
               help="serve a fetched upstream page this long before revalidating it (ETag)"),
    OptionSpec(name="serve.upstream_timeout", kind="int", default=10, metavar="SECONDS",
               commands=frozenset({"serve"}),
               help="give up on the upstream after this long (then the cached page, or 504)"),
)
_SPECS = {spec.name: spec for spec in OPTIONS}
# The container engines (wheelhub.engines.spec.OCI_ENGINES), and the host.
ENGINES = ("docker", "podman", "host")
COMMANDS = tuple(sorted(frozenset().union(*(spec.commands for spec in OPTIONS))))
_SECTIONS = frozenset(spec.section for spec in OPTIONS if spec.section)
# Keys of wheelhub.yaml that are not options: parsed by their owners.
_EXTRA_FILE_KEYS = ("recipes", "test", "labels")
# WHEELHUB_* variables that are not options (the token, engine knobs) and must not be
# rejected as typos.
_ENV_ONLY_VARS = ("WHEELHUB_TOKEN", "WHEELHUB_OWNER", "WHEELHUB_HOST_PYTHON_ROOT")


def options_for(command: str) -> tuple[OptionSpec, ...]:
    """The options *command* reads, in table order."""
    return tuple(spec for spec in OPTIONS if command in spec.commands)


def default(name: str) -> Any:
    """The shipped default of an option, for library types that mirror the table."""
    return _SPECS[name].default


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
    directory: Path  # absolute; relative paths of options are relative to it
    recipes: Mapping[str, Recipe] = field(default_factory=dict)
    file_sections: Mapping[str, Any] = field(default_factory=dict)
    config_path: Path | None = None

    def get(self, name: str) -> Any:
        return self.values[name].value


_SIZE = re.compile(r"^(\d+)\s*([kmg]?)i?b?$", re.IGNORECASE)


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
        if value < spec.minimum:
            raise ConfigError(f"{source}: {spec.name}={value} must be at least {spec.minimum}")
        return value
    if spec.kind == "size":
        match = _SIZE.match(str(raw).strip())
        if not match:
            raise ConfigError(f"{source}: {spec.name}={raw!r} is not a size",
                              hint="use e.g. 500M, 2G or 1048576 (bytes)")
        return int(match.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[
            match.group(2).lower()]
    text = ",".join(str(item) for item in raw) if isinstance(raw, list) else (
        "" if raw is None else str(raw))
    if spec.choices and text not in spec.choices:
        raise ConfigError(f"{source}: {spec.name}={text!r} is not one of "
                          f"{', '.join(spec.choices)}")
    return text


def _load_file(path: Path) -> dict[str, Any]:
    """The file's options as ``{name: value}`` (``publish.jobs`` for section keys), and
    the other top-level keys as they are."""
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
    top = [spec.name for spec in OPTIONS if spec.in_file and not spec.section]
    values: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = str(raw_key).replace("-", "_")
        if key in _SECTIONS:
            values.update(_load_section(key, value, path))
        elif key in top or key in _EXTRA_FILE_KEYS:
            values[key] = value
        else:
            raise ConfigError.unknown_key(key, str(path), [*top, *_SECTIONS, *_EXTRA_FILE_KEYS])
    return values


def _load_section(section: str, body: Any, path: Path) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ConfigError(f"{path}: {section} must be a mapping of option: value")
    known = [spec.key for spec in OPTIONS if spec.section == section]
    values: dict[str, Any] = {}
    for raw_key, value in body.items():
        key = str(raw_key).replace("-", "_")
        if key not in known:
            raise ConfigError.unknown_key(key, f"{path}: {section}", known)
        values[f"{section}.{key}"] = value
    return values


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
            cwd: Path | None = None) -> ResolvedConfig:
    """Resolve every option from the four layers. ``cli`` holds only flags actually given.

    ``directory`` and ``config`` come first (defaults < env < CLI): they say where
    ``wheelhub.yaml`` is.
    """
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    known_env = {spec.env for spec in OPTIONS} | set(_ENV_ONLY_VARS)
    for key in env:
        if key.startswith(ENV_PREFIX) and key not in known_env:
            raise ConfigError.unknown_key(key, "environment", sorted(known_env))
    where = {spec.name: _layered(spec, {}, "", env, cli) for spec in OPTIONS if not spec.in_file}
    directory = (cwd / where["directory"].value).resolve()
    config_path = cwd / where["config"].value if where["config"].value else directory / CONFIG_FILE
    file_values: dict[str, Any] = {}
    if config_path.is_file():
        file_values = _load_file(config_path)
    elif where["config"].value:
        raise ConfigError(f"config file '{config_path}' does not exist",
                          hint="check --config, or drop it to use ./wheelhub.yaml")
    values = {spec.name: where[spec.name] if spec.name in where
              else _layered(spec, file_values, config_path.name, env, cli) for spec in OPTIONS}
    return ResolvedConfig(
        values=values,
        directory=directory,
        recipes=_parse_recipes(file_values.get("recipes"), config_path),
        file_sections={k: file_values[k] for k in _EXTRA_FILE_KEYS if k in file_values},
        config_path=config_path if config_path.is_file() else None,
    )


def _layered(spec: OptionSpec, file_values: Mapping[str, Any], file_name: str,
             env: Mapping[str, str], cli: Mapping[str, Any]) -> ResolvedValue:
    value, source = spec.default, "default"
    if spec.name in file_values:
        value, source = file_values[spec.name], file_name
    if spec.env in env:
        value, source = env[spec.env], f"env {spec.env}"
    if cli.get(spec.name) is not None:
        value, source = cli[spec.name], "command line"
    return ResolvedValue(value=_coerce(spec, value, source), source=source)


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
    memory: int = 0  # bytes; 0: no limit
    cache_dir: Path
    force: bool = False
    recipes: Mapping[str, Recipe] = field(default_factory=dict)
    cache_keep: int = default("cache.keep")  # prepared snapshots kept after a build
    cache_max_size: int = 0  # bytes of prepared snapshots kept; 0: no limit
    cache_from: tuple[str, ...] = ()
    cache_token: str | None = field(default=None, repr=False)
    cache_token_env: str = default("cache_token_env")
    shard: str = ""  # "I/N" or "I/N:projects"; parsed by wheelhub.build.shards
    frontend: str = default("frontend")  # one of FRONTENDS; 'auto' resolved below
    hermetic: bool = False  # prefetch on the host, then build containers with no network
    ccache: bool = True  # compilers behind a pinned ccache, its cache in cache_dir

    def __post_init__(self) -> None:
        # 'auto' builds sdists with a uv the host fetched for the image, from sdists the host
        # fetched: a hermetic run has its own prefetch, and the host engine is no image.
        if self.frontend == "auto" and (self.hermetic or self.engine == "host"):
            object.__setattr__(self, "frontend", "pip")

    @property
    def runs_uv(self) -> bool:
        """Whether sessions install with the pinned uv the host fetches (auto builds with
        it too)."""
        return self.frontend in {"auto", "build[uv]"}

    @property
    def installs_frontend(self) -> str | None:
        """What a session installs to build with (beside the build requirements)."""
        return None if self.frontend in {"pip", "auto"} else self.frontend

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
        if engine not in ENGINES:
            raise ConfigError(f"{config.values['engine'].source}: engine={engine!r} is unknown",
                              hint=f"use one of {', '.join(map(repr, ENGINES))}")
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
            frontend=config.get("frontend"),
            wheelhouse=(cwd / config.get("wheelhouse")).resolve(),
            network=config.get("network") or None,
            ca_bundle=path_of("ca_bundle", optional_default=False),
            no_binary=_split(config.get("no_binary")),
            only_binary=_split(config.get("only_binary")),
            plat=config.get("plat") or None,
            keep_container=config.get("keep_container"),
            memory=config.get("memory"),
            cache_dir=(cwd / cache_raw).resolve() if cache_raw else default_cache_dir(env),
            force=config.get("force"),
            hermetic=config.get("hermetic"),
            ccache=config.get("ccache"),
            recipes=config.recipes,
            cache_keep=config.get("cache.keep"),
            cache_max_size=config.get("cache.max_size"),
            cache_from=_split(config.get("cache_from")),
            cache_token=env.get(config.get("cache_token_env")) or None,
            cache_token_env=config.get("cache_token_env"),
            shard=config.get("shard"),
        )


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True, kw_only=True, slots=True)
class TestOptions:
    """What ``wheelhub test`` needs; built from the same layered options as ``build``."""

    __test__: ClassVar[bool] = False  # not a pytest test class

    wheelhouse: Path
    project_dir: Path
    python: str = default("python")
    runtime_image: str = default("runtime_image")
    jobs: int = default("jobs")
    recipes: Mapping[str, Recipe] = field(default_factory=dict)
    keep_container: bool = default("keep_container")
    memory: int = 0  # bytes; 0: no limit
    engine: str = default("engine")  # runtime containers run here ('host': docker)
    # wheelhub.yaml's top-level `test:`: run for every package without a recipe `test`
    default_test: str = ""

    @classmethod
    def from_config(cls, config: ResolvedConfig, build: BuildOptions) -> TestOptions:
        return cls(wheelhouse=build.wheelhouse, project_dir=build.project_dir, python=build.python,
                   runtime_image=str(config.get("runtime_image")), jobs=build.jobs,
                   recipes=build.recipes, keep_container=build.keep_container,
                   memory=build.memory, engine=build.engine,
                   default_test=_default_test(config))


def _default_test(config: ResolvedConfig) -> str:
    raw = config.file_sections.get("test")
    if raw is None:
        return ""
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"{config.config_path or CONFIG_FILE}: test={raw!r} is not a command",
                          hint="give one shell command run in every package's test venv "
                          "(test: python -c \"import mypkg\"), or set recipes.<name>.test")
    return raw
