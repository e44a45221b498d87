"""A Job is what to run, with what, and over which parameter rows; a Task is one row of it.

The command is an argv list (never a shell string): `{name}` placeholders in its items are
filled from the task's params by the task wrapper (freight.task.fill_placeholders), so a value like `a b; rm -rf ~` reaches the
program as one literal argument.
"""

from __future__ import annotations

import string
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from freight.spec.resources import Resources

ParamValue = str | int | float | bool


class EnvMode(str, Enum):
    current = "current"  # this interpreter, as it is
    venv = "venv"  # an isolated uv environment from the captured requirements, cached
    auto = "auto"  # current when it already satisfies the requirements, else venv


class Task(BaseModel):
    """One parameter row of a job, by its position in the sweep (0-based)."""

    index: int = Field(ge=0)
    params: dict[str, ParamValue] = Field(default_factory=dict)


ENGINES = ("apptainer", "singularity", "charliecloud", "podman", "docker", "enroot", "pyxis")
EngineName = Literal["apptainer", "singularity", "charliecloud", "podman", "docker", "enroot", "pyxis"]


class Container(BaseModel):
    """Run every task's program inside this image (the task wrapper itself stays outside)."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(min_length=1)  # a registry ref, a .sif file, a Charliecloud image dir …
    engine: EngineName | None = None  # None: the first one the machine running the task has
    mounts: list[str] = Field(default_factory=list)  # "HOST[:CONTAINER[:ro]]", besides workdir and run dir
    # How an image freight builds itself (image = "auto") is made: see freight.image.
    base: str | None = None  # --base: the image to build on; None: chosen from the requirements
    bake: bool = False  # copy the code into the image instead of binding it in at run time
    deps: Literal["image", "outside"] = "image"  # outside: a uv environment on shared storage, bound in
    # Set by freight when it built the image (image = "auto", freight.image.auto):
    python: str | None = None  # what `python` in the command means in the image (default python3)
    pythonpath: list[str] = Field(default_factory=list)  # put first on PYTHONPATH inside (editable package)


class Preemption(BaseModel):
    """What to do ahead of a time limit or preemption: signal, checkpoint, requeue."""

    model_config = ConfigDict(extra="forbid")

    signal: str | None = None  # "USR1@90": SIGUSR1 90 s before the limit
    checkpoint_cmd: list[str] | None = None  # run by the wrapper when that signal arrives
    requeue: bool = False  # put the task back in the queue after preemption / the signal
    max_requeue: int = Field(3, ge=0)  # times one task may be requeued or resubmitted


class Job(BaseModel):
    """Everything a target needs to run every task of a run, as plain data (job.json)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    command: list[str] = Field(min_length=1)
    workdir: str
    env: dict[str, str] = Field(default_factory=dict)
    resources: Resources = Field(default_factory=Resources)
    tasks: list[Task] = Field(default_factory=lambda: [Task(index=0)])
    env_mode: EnvMode = EnvMode.auto
    requirements: list[str] = Field(default_factory=list)
    python: str | None = None  # the interpreter that runs `python` commands (venv or current)
    max_parallel: int | None = Field(None, ge=1)
    container: Container | None = None
    pack: int = Field(1, ge=1)  # tasks run one after another in one scheduler array element
    preemption: Preemption = Field(default_factory=Preemption)
    # Multi-node launchers (resources.nodes > 1): a Ray cluster or torchrun spread over the nodes.
    launcher: Literal["ray", "torchrun"] | None = None
    # Settings for the chosen target (partition, account, extra scheduler flags …), from
    # `[targets.<name>]` in freight.toml and the command line; each target validates its own.
    target_options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        allowed = set(string.ascii_letters + string.digits + "-_.")
        cleaned = "".join(c if c in allowed else "-" for c in value).strip("-.") or "job"
        return cleaned[:64]

    def param_names(self) -> list[str]:
        names: dict[str, None] = {}
        for task in self.tasks:
            names.update(dict.fromkeys(task.params))
        return list(names)
