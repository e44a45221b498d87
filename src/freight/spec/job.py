"""A Job is what to run, with what, and over which parameter rows; a Task is one row of it.

The command is an argv list (never a shell string): `{name}` placeholders in its items are
filled from the task's params by the task wrapper (freight.task.fill_placeholders), so a value like `a b; rm -rf ~` reaches the
program as one literal argument.
"""

from __future__ import annotations

import string
from enum import Enum
from typing import Any

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
