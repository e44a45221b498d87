"""Package index settings for uv, taken from pip's configuration.

uv does not read pip's configuration, and many sites (this machine included) reach PyPI only
through mirrors configured for pip (a pip.conf with `index-url`, `extra-index-url`,
`find-links`, `constraint`). Unless the user set up uv's own index settings (`UV_INDEX_URL`,
`UV_DEFAULT_INDEX`, `UV_INDEX`, `UV_EXTRA_INDEX_URL`, `UV_FIND_LINKS`, `UV_NO_INDEX`,
`UV_CONFIG_FILE`, or a uv.toml), freight passes pip's settings to uv as the same flags
(`--index-url`, `--extra-index-url`, `--find-links`, `--constraints`) and pip's `cert` as
`SSL_CERT_FILE`. pip's files are read in pip's own order (global, user, site, then
$PIP_CONFIG_FILE; `[install]` over `[global]`), then the `PIP_*` variables on top.

uv's index strategy stays its default (`first-index`: a package comes from the first index that
has it); pip merges all indexes. On a mirror that holds a subset of releases this keeps uv on
the mirror, which is what the site meant.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

PIP_KEYS = ("index-url", "extra-index-url", "find-links", "constraint", "cert")
UV_INDEX_VARS = (
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_NO_INDEX",
    "UV_CONFIG_FILE",
)



@dataclass(frozen=True)
class IndexSettings:
    """pip's index configuration, and whether uv should get it (not when uv is configured)."""

    pip: dict[str, str]
    uv_configured: bool

    def _values(self, key: str) -> list[str]:
        return self.pip.get(key, "").split()

    def uv_args(self, *, constraints: bool) -> list[str]:
        if self.uv_configured:
            return []
        args = ["--index-url", self.pip["index-url"]] if self.pip.get("index-url") else []
        args += [a for url in self._values("extra-index-url") for a in ("--extra-index-url", url)]
        args += [a for loc in self._values("find-links") for a in ("--find-links", loc)]
        if constraints:  # site policy (e.g. the torch releases a mirror holds); the lock has it
            args += [a for path in self._values("constraint") for a in ("--constraints", path)]
        return args

    def uv_environ(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.pip.get("cert") and not self.uv_configured:
            env.setdefault("SSL_CERT_FILE", self.pip["cert"])
        return env

    def fingerprint(self) -> list[str]:
        """What changes the resolution: the flags and the constraint files' contents."""
        texts = []
        for path in self._values("constraint") if not self.uv_configured else []:
            with contextlib.suppress(OSError):
                texts.append(Path(path).read_text(encoding="utf-8"))
        envs = [f"{var}={os.environ.get(var, '')}" for var in UV_INDEX_VARS]
        return self.uv_args(constraints=True) + texts + envs


def index_settings() -> IndexSettings:
    return IndexSettings(pip=pip_settings(), uv_configured=uv_configured())


def uv_configured() -> bool:
    """True when the user set up uv's own index settings, which then win over pip's."""
    if any(os.environ.get(var) for var in UV_INDEX_VARS):
        return True
    dirs = [platformdirs.user_config_dir("uv"), "/etc/uv"]
    dirs += [os.path.join(d, "uv") for d in _xdg_config_dirs()]
    return any(Path(d, "uv.toml").is_file() for d in dirs)


def pip_settings() -> dict[str, str]:
    """pip's index settings: its config files in pip's order, then the PIP_* variables."""
    merged: dict[str, str] = {}
    for path in pip_config_files():
        merged.update(_read_pip_file(path))
    # pip: a command's own section ([install]) wins over [global], whichever file each is in
    settings = {key: value for (section, key), value in merged.items() if section == "global"}
    settings.update({k: v for (section, k), v in merged.items() if section == "install"})
    for key in PIP_KEYS:
        value = os.environ.get("PIP_" + key.upper().replace("-", "_"))
        if value:
            settings[key] = value
    return settings


def pip_config_files() -> list[Path]:
    """The files pip reads, lowest priority first (pip's global, user, site, PIP_CONFIG_FILE)."""
    explicit = os.environ.get("PIP_CONFIG_FILE")
    if explicit == os.devnull:
        return []
    files = [Path(d, "pip", "pip.conf") for d in _xdg_config_dirs()] + [Path("/etc/pip.conf")]
    files += [Path.home() / ".pip" / "pip.conf"]
    files += [Path(platformdirs.user_config_dir("pip"), "pip.conf")]
    files += [Path(sys.prefix, "pip.conf")] + ([Path(explicit)] if explicit else [])
    return [path for path in files if path.is_file()]


def _read_pip_file(path: Path) -> dict[tuple[str, str], str]:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return {}  # pip would refuse it too; not freight's business to stop on it
    found = {}
    for section in ("global", "install"):
        for key, value in parser.items(section) if parser.has_section(section) else []:
            if key.replace("_", "-") in PIP_KEYS:  # pip accepts index_url for index-url
                found[(section, key.replace("_", "-"))] = value
    return found


def _xdg_config_dirs() -> list[str]:
    return [d for d in os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":") if d]
