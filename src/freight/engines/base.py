"""The Engine protocol: how a container engine runs one program inside an image.

An engine turns (image, argv, mounts, env, workdir, gpus) into the argv that runs the program in
the image: `Engine.exec_argv(...)`. The task wrapper (freight.task, through engines/wrap.py) runs
that argv instead of the bare program, so state files, signals and time limits stay on the host.
Every value reaches the engine as one argv item (never through a shell), so a parameter such as
`a b; $HOME "q"` arrives literally.

Mounts are "HOST[:CONTAINER][:ro]" strings (Job.container.mounts); CONTAINER defaults to HOST,
so paths in params and results mean the same inside and outside. This module is stdlib-only:
the task wrapper imports it on compute nodes.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from freight.errors import ConfigError, MissingToolError
from freight.spec.patterns import ENV_NAME, split_mount

MOUNT_FIX = "e.g. --mount /data or --mount /scratch/me:/data:ro"



@dataclass(frozen=True)
class Mount:
    """One bind mount: a host path, where it appears in the container, read-only or not."""

    host: str
    container: str
    readonly: bool = False

    def spec(self, ro_suffix: str = ":ro") -> str:
        """HOST:CONTAINER[:ro], the form apptainer, podman and docker take."""
        return f"{self.host}:{self.container}" + (ro_suffix if self.readonly else "")


def parse_mount(text: str, base_dir: str | None = None) -> Mount:
    """"HOST[:CONTAINER][:ro|:rw]" -> Mount; a relative HOST is taken from `base_dir` (the project
    folder), `~` is expanded. ConfigError when it cannot be read."""
    try:
        host, inside, readonly = split_mount(text)
    except ValueError as exc:
        raise ConfigError(str(exc), fix=MOUNT_FIX) from None
    host = os.path.normpath(os.path.join(base_dir or os.getcwd(), os.path.expanduser(host)))
    return Mount(host, os.path.normpath(inside) if inside else host, readonly)


def parse_mounts(texts: list[str] | tuple[str, ...], base_dir: str | None = None) -> list[Mount]:
    """Each spec parsed; a later mount at the same container path replaces an earlier one."""
    by_target: dict[str, Mount] = {}
    for text in texts:
        mount = parse_mount(text, base_dir)
        by_target.pop(mount.container, None)
        by_target[mount.container] = mount
    return list(by_target.values())


def check_env(env: dict[str, str]) -> None:
    """Variable names every engine (and `env`) accepts."""
    for name in env:
        if not ENV_NAME.fullmatch(name):
            raise ConfigError(f"environment variable name {name!r} is not valid in a container",
                              fix="use letters, digits and _ (not starting with a digit)")


def refuse_in_paths(engine: str, mounts: list[Mount], chars: str, why: str) -> None:
    """ConfigError when a mount path holds a character the engine's syntax cannot carry."""
    for mount in mounts:
        for path in (mount.host, mount.container):
            bad = sorted({c for c in chars if c in path})
            if bad:
                shown = " ".join(repr(c) for c in bad)
                raise ConfigError(f"{engine} cannot bind {path!r}: {why} ({shown})",
                                  fix="move or link the folder to a path without them")


def env_prefix(assignments: dict[str, str]) -> list[str]:
    """["env", "K=V", ...]: variables for the engine process itself, without a shell."""
    return ["env", *(f"{name}={value}" for name, value in assignments.items())] if assignments else []


class Engine:
    """A container engine. Subclasses set the class attributes and implement exec_argv."""

    name = ""  # as in Job.container.engine
    program = ""  # the executable that must be on PATH
    install_hint = ""  # how to get it, for MissingToolError
    gpu_note = ""  # how GPUs reach the container (docs, README, logs)

    def available(self) -> bool:
        return shutil.which(self.program) is not None

    def require(self) -> Engine:
        """self, or MissingToolError naming what to install."""
        if not self.available():
            raise MissingToolError(f"container engine {self.name!r} needs {self.program}, which is not on PATH here",
                                   fix=f"{self.install_hint}, or choose another --engine")
        return self

    def prepare(self, image: str, mounts: list[Mount]) -> None:
        """Make the image ready for these mounts, on the machine that runs the task (no-op)."""

    def exec_argv(self, image: str, argv: list[str], *, mounts: list[str], env: dict[str, str],
                  workdir: str, gpus: int = 0, interactive: bool = False) -> list[str]:
        """The argv that runs `argv` in `image` with these binds, exactly this environment (the
        host's does not leak in), in `workdir`, with `gpus` GPUs (0: none asked for)."""
        raise NotImplementedError

    def _parsed(self, mounts: list[str], env: dict[str, str], workdir: str) -> list[Mount]:
        check_env(env)
        return parse_mounts(mounts, workdir)

    def __repr__(self) -> str:
        return f"<engine {self.name}>"
