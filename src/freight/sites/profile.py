"""Site profiles: freight.toml-shaped settings for one site, underneath the project's own.

Layers, lowest first: freight's defaults < the profile < freight.toml < the command line.
`--profile NAME` or `profile = "NAME"` in freight.toml picks one; `freight profiles list`
shows them.

Where: built-in profiles are sites/builtin/NAME.toml (shipped in the package); a user's
`NAME.toml` in the profiles folder of freight's config dir (platformdirs' user config dir,
~/.config/freight/profiles/ on Linux; $FREIGHT_CONFIG_DIR/profiles/ when that is set) lies on
top of the built-in profile of the same name, or adds a new one.

A profile file is a freight.toml without the workload keys (name, command, sweep, profile),
checked by the same models (unknown keys are refused with a did-you-mean), plus a `[site]`
table that describes the site (SiteInfo). `[targets.slurm]` / `[targets.sge]` are checked by
the target's own options model as well.

Merging two layers: tables merge key by key; lists under [container] and [targets.*] add up
(the lower layer's first: a profile's modules, then the project's; a module or mount already
there is not repeated); any other value of the higher layer replaces the lower one's.

`$NAME` and `${NAME}` in [env_vars], in [targets.*.env] and in [container] image and mounts
are replaced by this machine's environment when the profile is applied: freight runs on the
site's login node, whose $SCRATCH and $USER are the jobs' own. `$$` is a literal `$`. A
variable that is not set is a one-line error (`freight profiles check` lists them).
"""

from __future__ import annotations

import copy
import difflib
import os
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from freight.errors import ConfigError
from freight.spec.config import Config, parse_config
from freight.spec.tomlfile import read_toml

BUILTIN_DIR = Path(__file__).with_name("builtin")
CONFIG_DIR_ENV = "FREIGHT_CONFIG_DIR"
WORKLOAD_KEYS = ("name", "command", "sweep", "profile")  # a run's own, never a site's
# Targets that site profiles already describe but freight does not have yet (issue 6).
PLANNED_TARGETS = ("htcondor", "basecommand", "pbs", "lsf", "kubernetes")


class SiteInfo(BaseModel):
    """[site] in a profile: what the site is, for people and for `freight profiles check`."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    docs: list[str] = Field(default_factory=list)  # the site's user guides
    scratch: str | None = None  # the scratch folder for images, caches and runs: "$SCRATCH"
    registry: str | None = None  # where the site's images come from: "docker.io", "nvcr.io"
    gpus: bool = True  # False: a CPU-only site, which refuses --gpus


@dataclass(frozen=True)
class Profile:
    name: str
    files: tuple[Path, ...]  # the built-in file first, then the user's
    site: SiteInfo
    settings: dict[str, Any]  # freight.toml-shaped, as written ($NAME not replaced yet)

    @property
    def target(self) -> str:
        return self.settings.get("target", "local")

    @property
    def origin(self) -> str:
        kinds = ["built-in" if path.parent == BUILTIN_DIR else "user" for path in self.files]
        return " + ".join(kinds)


# ---------------------------------------------------------------- finding and reading


def user_profile_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    base = Path(override) if override else Path(platformdirs.user_config_dir("freight"))
    return base / "profiles"


def profile_files() -> dict[str, list[Path]]:
    """Every profile name -> its files, the built-in one first."""
    found: dict[str, list[Path]] = {}
    for folder in (BUILTIN_DIR, user_profile_dir()):
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else ():
            found.setdefault(path.stem, []).append(path)
    return dict(sorted(found.items()))


def load_profile(name: str) -> Profile:
    files = profile_files()
    if name not in files:
        close = difflib.get_close_matches(name, files, n=1)
        fix = f"did you mean {close[0]!r}?" if close else f"known profiles: {', '.join(files)}"
        raise ConfigError(f"unknown profile {name!r}", fix=fix)
    site: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    for path in files[name]:
        own_site, own_settings = read_profile_file(path)
        site.update(own_site)
        settings = layered(settings, own_settings)
    return Profile(name, tuple(files[name]), SiteInfo.model_validate(site), settings)


def read_profile_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """([site] as written, the other settings), each checked; errors name the file and key."""
    data = read_toml(path)
    site = data.pop("site", {})
    _check_site(site, path)
    for key in WORKLOAD_KEYS:
        if key in data:
            raise ConfigError(f"'{key}' describes a run, not a site", fix="put it in the project's freight.toml",
                              path=path)
    parse_config(data, path)
    for target, options in data.get("targets", {}).items():
        _check_target_options(target, options, path)
    return site, data


def _check_site(site: Any, path: Path) -> None:
    if not isinstance(site, dict):
        raise ConfigError("[site] must be a table", path=path)
    try:
        SiteInfo.model_validate(site)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else "site"
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(key, SiteInfo.model_fields, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown key '{key}' in [site]{hint}", path=path,
                              fix="" if close else f"known keys: {', '.join(SiteInfo.model_fields)}") from None
        raise ConfigError(f"bad value for '{key}' in [site]: {error['msg']}", path=path) from None


def _slurm_options(options: dict) -> None:
    from freight.sched.slurm import slurm_options

    slurm_options(SimpleNamespace(target_options=options))  # it reads only job.target_options


# Where each target's [targets.NAME] settings are checked: "module:function" taking the table.
OPTION_LOADERS = {
    "sge": "freight.sched.sge:load_options",
    "htcondor": "freight.sched.htcondor_render:load_options",
    "basecommand": "freight.sched.basecommand:load_options",
    "pbs": "freight.sched.pbs:load_options",
    "lsf": "freight.sched.lsf:load_options",
    "kubernetes": "freight.sched.kubernetes:load_options",
}


def _loader(spec: str) -> Callable[[dict], None]:
    def check(options: dict) -> None:
        import importlib

        module, _, function = spec.partition(":")
        getattr(importlib.import_module(module), function)(options)

    return check


# The targets whose [targets.NAME] settings have a model; the others are kept as written.
OPTION_CHECKS: dict[str, Callable[[dict], None]] = {"slurm": _slurm_options,
                                                     **{name: _loader(spec) for name, spec in OPTION_LOADERS.items()}}


def _check_target_options(target: str, options: Any, path: Path) -> None:
    check = OPTION_CHECKS.get(target)
    if check is None or not isinstance(options, dict):
        return
    try:
        check(options)
    except ConfigError as exc:
        raise ConfigError(exc.problem, fix=exc.fix, path=path) from None


# ---------------------------------------------------------------- layering


def layered(lower: dict[str, Any], upper: dict[str, Any], where: tuple[str, ...] = ()) -> dict[str, Any]:
    """`upper` on top of `lower` (see the module docstring); neither is changed."""
    merged = copy.deepcopy(lower)
    for key, value in upper.items():
        below, here = merged.get(key), (*where, key)
        if isinstance(below, dict) and isinstance(value, dict):
            merged[key] = layered(below, value, here)
        elif isinstance(below, list) and isinstance(value, list) and here[0] in ("container", "targets"):
            once = key in ("modules", "mounts")  # the same module or mount twice is noise, not intent
            merged[key] = [*below, *(item for item in value if not (once and item in below))]
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def apply_profile(config: Config, environ: Mapping[str, str] | None = None) -> Config:
    """config with its profile (config.profile) underneath; config itself when it names none."""
    if config.profile is None:
        return config
    profile = load_profile(config.profile)
    settings = expand_variables(profile, os.environ if environ is None else environ)
    merged = layered(settings, config.model_dump(mode="python", exclude_unset=True))
    try:
        result = Config.model_validate(merged)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ConfigError(f"profile {profile.name!r} does not fit these settings: {where}: {error['msg']}",
                          path=profile.files[-1]) from None
    result._source = config.source
    _refuse_what_the_site_cannot(result, profile)
    return result


def _refuse_what_the_site_cannot(config: Config, profile: Profile) -> None:
    from freight.sched import TARGETS

    if config.target not in TARGETS and config.target in PLANNED_TARGETS:
        raise ConfigError(
            f"profile {profile.name!r} runs on the {config.target} target, which freight does not have yet",
            fix=f"pick one freight has with --target ({', '.join(TARGETS)}); the profile's other settings still apply",
        )
    gpus = config.resources.gpus or 0
    if gpus > 0 and not profile.site.gpus:
        raise ConfigError(f"profile {profile.name!r} is a CPU-only site: it has no GPUs for --gpus {gpus}",
                          fix="drop --gpus (and [resources] gpus), or pick a GPU site's profile")


# ---------------------------------------------------------------- $NAME in values


def missing_variables(text: str, environ: Mapping[str, str]) -> list[str]:
    """The $NAME / ${NAME} that text uses and environ lacks."""
    return [name for name in string.Template(text).get_identifiers() if name not in environ]


def expand_text(text: str, environ: Mapping[str, str], profile: Profile) -> str:
    template = string.Template(text)
    if not template.is_valid():
        raise ConfigError(f"profile {profile.name!r}: {text!r} has a '$' that is not $NAME or ${{NAME}}",
                          fix="write $$ for a literal $", path=profile.files[-1])
    missing = missing_variables(text, environ)
    if missing:
        raise ConfigError(f"profile {profile.name!r} uses ${missing[0]}, which is not set on this machine",
                          fix=f"run freight where the site sets it (its login node), or export {missing[0]}=…",
                          path=profile.files[-1])
    return template.substitute(environ)


def expand_variables(profile: Profile, environ: Mapping[str, str]) -> dict[str, Any]:
    """The profile's settings with $NAME replaced where the module docstring says."""
    def expand(value: Any) -> Any:
        if isinstance(value, str):
            return expand_text(value, environ, profile)
        if isinstance(value, list):
            return [expand(item) for item in value]
        if isinstance(value, dict):
            return {key: expand(item) for key, item in value.items()}
        return value

    settings = copy.deepcopy(profile.settings)
    for table, key in expandable_places(settings):
        table[key] = expand(table[key])
    return settings


def expandable_places(settings: dict[str, Any]) -> list[tuple[dict, str]]:
    """(table, key) pairs whose values may hold $NAME."""
    places: list[tuple[dict, str]] = []
    if "env_vars" in settings:
        places.append((settings, "env_vars"))
    for options in settings.get("targets", {}).values():
        if isinstance(options, dict) and "env" in options:
            places.append((options, "env"))
    container = settings.get("container", {})
    places += [(container, key) for key in ("image", "mounts") if key in container]
    return places
