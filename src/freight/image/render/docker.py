"""Dockerfile (multi-stage) from a Recipe: for docker, podman and buildah."""

from __future__ import annotations

import json
from freight.image.plan import ImagePlan
from freight.image.render.templates import render_template
from freight.image.steps import Copy, Env, Recipe, Run, Stage, Step, Workdir

CONTINUE = " \\\n    && "


INTRO = "Build: docker build -t {ref} .  (or podman build)"


def render(recipe: Recipe, plan: ImagePlan) -> dict[str, str]:
    return {"Dockerfile": dockerfile(recipe, plan, INTRO)}


def dockerfile(recipe: Recipe, plan: ImagePlan, intro: str, metadata: bool = True) -> str:
    """The Dockerfile text; `metadata`: end with LABEL and CMD (ch-image ignores both)."""
    multi = len(recipe.stages) > 1
    stages = [{"alias": f" AS {stage.name}" if multi else "", "image": stage.image,
               "lines": stage_lines(stage)} for stage in recipe.stages]
    labels = [f"{name}={quote(value)}" for name, value in recipe.labels.items()] if metadata else []
    command = json.dumps(list(recipe.command)) if metadata else ""
    return render_template("Dockerfile.j2", plan=plan, intro=intro.format(ref=plan.ref),
                           stages=stages, labels=labels, command=command)


def stage_lines(stage: Stage) -> list[str]:
    return [instruction(step) for step in stage.steps]


def instruction(step: Step) -> str:
    """One Dockerfile instruction (with its comment line) for one step."""
    if isinstance(step, Run):
        comment = f"# {step.comment}\n" if step.comment else ""
        return f"{comment}RUN {CONTINUE.join(step.commands)}"
    if isinstance(step, Env):
        return "ENV " + " \\\n    ".join(f"{k}={quote(v)}" for k, v in step.values)
    if isinstance(step, Copy):
        origin = f"--from={step.from_stage} " if step.from_stage else ""
        return f"COPY {origin}{step.src} {step.dest}"
    if isinstance(step, Workdir):
        return f"WORKDIR {step.path}"
    raise TypeError(f"no Dockerfile instruction for {step!r}")


def quote(value: str) -> str:
    """A double-quoted ENV/LABEL value; `$NAME` still expands (as Docker does in ENV)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
