"""Project configuration: `freight.toml`, or `[tool.freight]` in pyproject.toml; CLI flags override.

Where: `load_config(start)` looks in the project folder (start itself, or the folder of the
script/notebook named by start): `freight.toml` first, else `[tool.freight]` in pyproject.toml,
else all defaults. Precedence: defaults < site profile (sites/profile.py: `profile = ...`,
`--profile`) < file < command line (`merge_cli`).

Schema (every table rejects unknown keys, with a did-you-mean):

    name = "xor"                      # run name; default: the script's name
    command = ["python", "train.py", "--lr", "{lr}"]   # or one string, split like a shell
    target = "local"                  # where tasks run
    env = "auto"                      # current | venv | auto
    requirements = ["numpy>=1.24"]    # extra requirement strings (PEP 508)
    max_parallel = 8                  # tasks at once
    pack = 1                          # tasks run one after another per scheduler array element
    profile = "tacc-frontera"         # site settings underneath this file (freight profiles list)

    [container]                       # run the program inside an image
    image = "docker://python:3.11-slim"   # or a .sif, a Charliecloud image folder …
    engine = "apptainer"              # apptainer | singularity | charliecloud | podman | docker | enroot | pyxis
    mounts = ["/data:/data:ro"]       # besides the project and run folders, always bound

    [preemption]                      # ahead of the time limit / preemption
    signal = "USR1@90"                # the signal the program gets, seconds before the limit
    checkpoint_cmd = "python save.py" # run by the task wrapper when that signal arrives
    requeue = true                    # back into the queue, up to max_requeue times
    max_requeue = 3

    [resources]                       # per task
    cpus = 4
    mem = "8G"                        # 512M, 4G, 1.5GB; a bare number is MB
    gpus = 1
    gpu_type = "a100"
    time = "1:00:00"                  # 1:30:00, 2h, 45m, 1-00:00:00; a bare number is minutes
    nodes = 1
    tasks_per_node = 1
    disk = "20G"

    [sweep]
    mode = "grid"                     # grid | zip
    random = 20                       # draw 20 rows instead of the full grid
    seed = 0                          # the seed of `random`
    file = "rows.csv"                 # explicit rows (.toml/.csv/.jsonl), relative to this file

    [sweep.params]                    # name = list of values | range string | one value
    lr = "log:1e-4:1e-1:4"
    batch = [32, 64]

    [env_vars]                        # environment of every task (strings or numbers)
    WANDB_MODE = "offline"

    [targets.slurm]                   # free-form settings for one target (partition, account …)
    partition = "gpu"

The sweep's own knobs live in `[sweep]` and its dimensions in `[sweep.params]`, so a parameter
may be called `seed`, `mode` or `file`. A `--sweep` on the command line replaces the whole
`[sweep.params]` table (what you type is the sweep you get); `--sweep-file`, `--zip/--grid`,
`--random` and `--seed` replace their own keys; environment variables from the command line are
added to `[env_vars]`. Errors are one line naming the file and the key.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
from pathlib import Path
from typing import Any, Literal, get_origin

from packaging.requirements import InvalidRequirement, Requirement
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictBool, ValidationError, field_validator

from freight.errors import ConfigError
from freight.spec import sweep
from freight.spec.job import EngineName, EnvMode, Task
from freight.spec.patterns import ENV_NAME, check_mounts, check_signal_spec
from freight.spec.resources import Resources, parse_duration_s, parse_memory_mb
from freight.spec.tomlfile import read_toml

CONFIG_FILE = "freight.toml"
PYPROJECT_FILE = "pyproject.toml"

# How to fix a bad value, by key; the validator's own message says what is wrong.
FIXES = {
    "cpus": "a whole number of cores, at least 1",
    "gpus": "a whole number of GPUs, 0 or more",
    "nodes": "a whole number, at least 1",
    "tasks_per_node": "a whole number, at least 1",
    "max_parallel": "a whole number, at least 1",
    "mem": 'a size like "4G" or "512M"',
    "disk": 'a size like "20G"',
    "time": 'a duration like "1:00:00", "2h" or 90 (minutes)',
    "env": 'one of "current", "venv", "auto"',
    "mode": 'one of "grid", "zip"',
    "command": 'an argv list like ["python", "train.py"] or one string',
    "requirements": 'a list of requirement strings like ["numpy>=1.24", "torch"]',
    "env_vars": 'NAME = "value" lines under [env_vars]',
    "pack": "a whole number of tasks per array element, at least 1",
    "max_requeue": "a whole number, 0 or more",
    "engine": "one of apptainer, singularity, charliecloud, podman, docker, enroot, pyxis",
    "signal": 'a signal and the seconds before the limit, like "USR1@90"',
    "checkpoint_cmd": 'a command like "python save.py" or ["python", "save.py"]',
    "requeue": "true or false",
    "bake": "true or false",
    "base": 'an image reference like "python:3.12-slim"',
    "image": 'an image like "docker://python:3.12-slim", a .sif file, an image folder, or "auto"',
    "deps": 'one of "image", "outside"',
    "launcher": 'one of "ray", "torchrun"',
    "mounts": "e.g. --mount /data or --mount /scratch/me:/data:ro",
}

# merge_cli keyword -> (table, key) in the config
_CLI_KEYS = {
    "name": ((), "name"),
    "command": ((), "command"),
    "target": ((), "target"),
    "env": ((), "env"),
    "requirements": ((), "requirements"),
    "max_parallel": ((), "max_parallel"),
    "env_vars": ((), "env_vars"),
    "cpus": (("resources",), "cpus"),
    "mem": (("resources",), "mem"),
    "gpus": (("resources",), "gpus"),
    "gpu_type": (("resources",), "gpu_type"),
    "time": (("resources",), "time"),
    "nodes": (("resources",), "nodes"),
    "tasks_per_node": (("resources",), "tasks_per_node"),
    "disk": (("resources",), "disk"),
    "pack": ((), "pack"),
    "profile": ((), "profile"),
    "image": (("container",), "image"),
    "engine": (("container",), "engine"),
    "mounts": (("container",), "mounts"),
    "base": (("container",), "base"),
    "bake": (("container",), "bake"),
    "deps": (("container",), "deps"),
    "launcher": ((), "launcher"),
    "signal": (("preemption",), "signal"),
    "checkpoint_cmd": (("preemption",), "checkpoint_cmd"),
    "requeue": (("preemption",), "requeue"),
    "max_requeue": (("preemption",), "max_requeue"),
    "sweep_file": (("sweep",), "file"),
    "random": (("sweep",), "random"),
    "seed": (("sweep",), "seed"),
}


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResourcesConfig(_Table):
    """[resources]: kept as written ("8G"); checked on load, converted by to_resources()."""

    cpus: int | None = Field(None, ge=1)
    mem: str | int | None = None
    gpus: int | None = Field(None, ge=0)
    gpu_type: str | None = None
    time: str | int | None = None
    nodes: int | None = Field(None, ge=1)
    tasks_per_node: int | None = Field(None, ge=1)
    disk: str | int | None = None

    @field_validator("mem", "disk")
    @classmethod
    def _size(cls, value: str | int | None) -> str | int | None:
        if value is not None and parse_memory_mb(value) < 1:
            raise ValueError("a size must be above 0")
        return value

    @field_validator("time")
    @classmethod
    def _duration(cls, value: str | int | None) -> str | int | None:
        if value is not None and parse_duration_s(str(value)) < 1:
            raise ValueError("a time limit must be above 0")
        return value

    def to_resources(self) -> Resources:
        """The Resources model; unset keys take Resources' defaults. A bare time is minutes."""
        given = {
            "cpus": self.cpus,
            "mem_mb": self.mem,
            "gpus": self.gpus,
            "gpu_type": self.gpu_type,
            "time_s": None if self.time is None else parse_duration_s(str(self.time)),
            "nodes": self.nodes,
            "tasks_per_node": self.tasks_per_node,
            "disk_mb": self.disk,
        }
        return Resources(**{key: value for key, value in given.items() if value is not None})


class SweepConfig(_Table):
    """[sweep] knobs and [sweep.params] dimensions; see freight.spec.sweep for the values."""

    mode: Literal["grid", "zip"] = "grid"
    random: int | None = Field(None, ge=1)
    seed: int | None = None
    file: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _dimensions(cls, params: dict[str, Any]) -> dict[str, Any]:
        for name, spec in params.items():
            try:
                sweep.make_dimension(name, spec)
            except ConfigError as exc:
                raise ValueError(exc.one_line()) from None
        return params

    def expand(self, root: Path = Path(".")) -> list[Task]:
        """The tasks; a relative `file` is found under `root` (load_config makes it absolute)."""
        return sweep.expand_params(
            self.params,
            mode=self.mode,
            sweep_file=None if self.file is None else root / self.file,
            random_n=self.random,
            seed=self.seed,
        )


class ContainerConfig(_Table):
    """[container]: the image the program runs in; no image means no container."""

    image: str | None = Field(None, min_length=1)
    engine: EngineName | None = None
    mounts: list[str] = Field(default_factory=list)
    base: str | None = Field(None, min_length=1)  # image = "auto": build on this base
    bake: StrictBool = False  # image = "auto": copy the code in instead of binding it at run time
    deps: Literal["image", "outside"] = "image"  # outside: a uv environment bound in, not in the image

    @field_validator("image", "base")
    @classmethod
    def _image_ref(cls, value: str | None) -> str | None:
        """No engine takes a name with blanks; only a local .sif or image folder may have them."""
        if value is not None and any(c.isspace() for c in value) and not os.path.exists(value):
            raise ValueError("an image reference has no blanks")
        return value

    @field_validator("mounts")
    @classmethod
    def _mounts(cls, value: list[str]) -> list[str]:
        return check_mounts(value)  # refused here, not when a task starts on a node


class PreemptionConfig(_Table):
    """[preemption]: signal ahead of the limit, checkpoint command, requeue."""

    signal: str | None = None
    checkpoint_cmd: list[str] | None = None
    requeue: StrictBool = False  # "yes" in TOML is a string, not a true
    max_requeue: int = Field(3, ge=0)

    @field_validator("signal")
    @classmethod
    def _signal(cls, value: str | None) -> str | None:
        return check_signal_spec(value)

    @field_validator("checkpoint_cmd", mode="before")
    @classmethod
    def _argv(cls, value: Any) -> Any:
        return _split_command(value)


class Config(_Table):
    """A project's freight settings. None means "not set": the caller's default applies."""

    name: str | None = Field(None, min_length=1)
    command: list[str] | None = None
    target: str = "local"
    env: EnvMode = EnvMode.auto
    requirements: list[str] = Field(default_factory=list)
    max_parallel: int | None = Field(None, ge=1)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    sweep: SweepConfig = Field(default_factory=SweepConfig)
    env_vars: dict[str, str] = Field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    pack: int | None = Field(None, ge=1)
    profile: str | None = Field(None, min_length=1)
    container: ContainerConfig = Field(default_factory=ContainerConfig)
    preemption: PreemptionConfig = Field(default_factory=PreemptionConfig)
    launcher: Literal["ray", "torchrun"] | None = None  # multi-node: [resources] nodes > 1

    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        """The file these settings came from (None: defaults only)."""
        return self._source

    @field_validator("command", mode="before")
    @classmethod
    def _argv(cls, value: Any) -> Any:
        return _split_command(value)

    @field_validator("requirements")
    @classmethod
    def _requirements(cls, value: list[str]) -> list[str]:
        for text in value:
            try:
                Requirement(text)
            except InvalidRequirement:
                raise ValueError(f"{text!r} is not a requirement like 'numpy>=1.24'") from None
        return value

    @field_validator("env_vars", mode="before")
    @classmethod
    def _env_strings(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        for key in value:
            if not ENV_NAME.fullmatch(str(key)):
                raise ValueError(f"{key!r} is not an environment variable name")
        return {key: _env_text(item) for key, item in value.items()}

    def to_resources(self) -> Resources:
        return self.resources.to_resources()

    def tasks(self) -> list[Task]:
        return self.sweep.expand()


def _split_command(value: Any) -> Any:
    """One string is split like a shell would; a list is kept; an empty command is refused."""
    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split the command: {exc}") from None
    if isinstance(value, list) and not value:
        raise ValueError("the command is empty")
    return value


def _env_text(value: Any) -> Any:
    """Numbers and booleans become the text a shell would hold; anything else is left to fail."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value) if isinstance(value, (int, float)) else value


# ---------------------------------------------------------------- loading


def load_config(start: Path) -> Config:
    """The project's settings: start is the project folder or a file in it (a script, notebook)."""
    folder = start if start.is_dir() else start.parent
    own = folder / CONFIG_FILE
    if own.is_file():
        return parse_config(read_toml(own), own)
    pyproject = folder / PYPROJECT_FILE
    if pyproject.is_file():
        table = read_toml(pyproject).get("tool", {}).get("freight")
        if table is not None:
            return parse_config(table, pyproject, section=("tool", "freight"))
    return Config()


def parse_config(data: Any, path: Path, section: tuple[str, ...] = ()) -> Config:
    """Validate a parsed TOML table as freight settings; errors name `path` and the key."""
    if not isinstance(data, dict):
        raise ConfigError(f"[{'.'.join(section)}] must be a table", path=path)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, path=path, section=section) from None
    if config.sweep.file is not None:
        config.sweep.file = str(path.parent / config.sweep.file)
    config._source = path
    return config


def merge_cli(config: Config, **overrides: Any) -> Config:
    """A copy of config with the command line's values on top; None means "flag not given".

    Keywords: name, command, target, env, requirements, max_parallel, env_vars, cpus, mem, gpus,
    gpu_type, time, nodes, tasks_per_node, disk, sweep (list of NAME=V1,V2 specs: replaces
    [sweep.params]; an empty list is "not given"), zip_ (True: zip, False: grid), sweep_file,
    random, seed. A given value replaces the file's, except env_vars, which are added to it.
    Keys set nowhere stay unset in the copy, so a site profile can still go underneath.
    """
    data = config.model_dump(mode="python", exclude_unset=True)
    specs = overrides.pop("sweep", None)
    if specs:
        data.setdefault("sweep", {})["params"] = sweep.parse_sweep_args(specs)
    zip_ = overrides.pop("zip_", None)
    if zip_ is not None:
        data.setdefault("sweep", {})["mode"] = "zip" if zip_ else "grid"
    for key, value in overrides.items():
        _set_override(data, key, value)
    try:
        merged = Config.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, path=None, section=()) from None
    merged._source = config.source
    return merged


def _set_override(data: dict[str, Any], key: str, value: Any) -> None:
    if key not in _CLI_KEYS:
        raise TypeError(f"merge_cli() got an unknown override {key!r}")
    if value is None:
        return
    tables, field = _CLI_KEYS[key]
    target = data
    for table in tables:
        target = target.setdefault(table, {})
    if key == "env_vars":  # the command line adds variables to the file's, and wins
        value = {**target.get(field, {}), **value}
    elif key == "mounts":  # and adds bind mounts to the file's
        value = [*target.get(field, []), *value]
    target[field] = str(value) if isinstance(value, Path) else value


# ---------------------------------------------------------------- one-line errors


def _explain(exc: ValidationError, path: Path | None, section: tuple[str, ...]) -> ConfigError:
    """The first validation error as one line: which key, in which table, and the fix."""
    error = exc.errors()[0]
    tables, key = _split_loc(error["loc"])
    where = f" in [{'.'.join(section + tables)}]" if section + tables else ""
    if error["type"] == "extra_forbidden":
        return _unknown_key(key, tables, where, path)
    shown = f" {error['input']!r}" if isinstance(error["input"], (str, int, float)) else ""
    message = re.sub(r"valid dictionary( or instance of \w+)?", "table", error["msg"])
    message = message.removeprefix("Value error, ")
    label = f"'{key}'{where}" if path is not None else _flag(key, tables)
    return ConfigError(
        f"bad value{shown} for {label}: {message[:1].lower()}{message[1:]}",
        fix=FIXES.get(key.split("[")[0]) or FIXES.get(tables[-1] if tables else "", ""),
        path=path,
    )


def _split_loc(loc: tuple[Any, ...]) -> tuple[tuple[str, ...], str]:
    """('resources', 'cpus') -> (('resources',), 'cpus'); list positions stay on the key."""
    model: type[BaseModel] = Config
    tables: list[str] = []
    for position, part in enumerate(loc):
        child = _table_model(model, part)
        last = position == len(loc) - 1
        if child is None and not last and _is_mapping(model, part):
            return (*tables, part), str(loc[position + 1])  # a key of [env_vars], [targets] …
        if child is None or last:
            rest = "".join(f"[{item}]" for item in loc[position + 1 :] if isinstance(item, int))
            return tuple(tables), f"{part}{rest}"
        tables.append(part)
        model = child
    return tuple(tables), ""


def _is_mapping(model: type[BaseModel], key: Any) -> bool:
    field = model.model_fields.get(key) if isinstance(key, str) else None
    return field is not None and get_origin(field.annotation) is dict


def _table_model(model: type[BaseModel], key: Any) -> type[BaseModel] | None:
    field = model.model_fields.get(key) if isinstance(key, str) else None
    try:
        return field.annotation if field and issubclass(field.annotation, BaseModel) else None
    except TypeError:  # a union or generic alias: not a table of ours
        return None


def _unknown_key(key: str, tables: tuple[str, ...], where: str, path: Path | None) -> ConfigError:
    model: type[BaseModel] = Config
    for table in tables:
        model = _table_model(model, table) or model
    known = list(model.model_fields)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    fix = "" if close else f"known keys: {', '.join(known)}"
    return ConfigError(f"unknown key '{key}'{where}{hint}", fix=fix, path=path)


def _flag(key: str, tables: tuple[str, ...]) -> str:
    """The command-line flag a merge_cli key came from, for messages."""
    if tables == ("sweep",) and key == "params":
        return "--sweep"
    if tables == ("env_vars",):
        return f"environment variable {key}"
    name = {"file": "sweep-file", "mounts": "mount"}.get(key, key)
    return "--" + name.replace("_", "-")
