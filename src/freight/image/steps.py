"""Format-neutral build steps: one list of stages, rendered to Dockerfile, Apptainer
definition or Charliecloud build by freight.image.render.

A Recipe is a list of Stages; the last stage is the image. Steps are plain frozen data.
`Env(..., runtime=False)` is only for the build (Docker ENV in a builder stage, an `export`
in Apptainer's %post); runtime env also reaches Apptainer's %environment and Charliecloud's
env file, since neither applies a build-time ENV when the container runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Run:
    """Shell commands run in order; the renderer joins them with `&&`."""

    commands: tuple[str, ...]
    comment: str = ""


@dataclass(frozen=True)
class Env:
    values: tuple[tuple[str, str], ...]
    runtime: bool = True


@dataclass(frozen=True)
class Copy:
    """Copy `src` to `dest`: from the build context, or from an earlier stage's filesystem."""

    src: str
    dest: str
    from_stage: str | None = None


@dataclass(frozen=True)
class Workdir:
    path: str


Step = Run | Env | Copy | Workdir


@dataclass
class Stage:
    """One image build: a base, then steps. A named stage can be copied from later."""

    name: str
    image: str
    steps: list[Step] = field(default_factory=list)

    def env(self, runtime_only: bool = False) -> list[tuple[str, str]]:
        """Every (name, value) the stage's Env steps set, in order."""
        return [pair for step in self.steps if isinstance(step, Env)
                and (step.runtime or not runtime_only) for pair in step.values]


@dataclass
class Recipe:
    """The stages (the last one is the image), its labels and the command it runs."""

    stages: list[Stage]
    labels: dict[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ("python3",)  # CMD / %runscript: `exec <command> "$@"`

    @property
    def final(self) -> Stage:
        return self.stages[-1]
