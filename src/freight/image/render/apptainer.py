"""Apptainer / Singularity definition file from a Recipe (multi-stage: `Stage:` and
`%files from <stage>`). %environment only applies when the container runs, so build-time
variables are exported at the top of %post; %files are copied before %post runs."""

from __future__ import annotations

import os
import shlex

from freight.image.plan import ImagePlan
from freight.image.render.docker import quote
from freight.image.render.templates import render_template
from freight.image.steps import Copy, Env, Recipe, Run, Stage, Workdir

DEF_FILE = "freight.def"


def render(recipe: Recipe, plan: ImagePlan) -> dict[str, str]:
    multi = len(recipe.stages) > 1
    stages = [_stage(stage, multi) for stage in recipe.stages]
    workdir = next((s.path for s in recipe.final.steps if isinstance(s, Workdir)), "")
    environment = [f"export {k}={quote(v)}" for k, v in recipe.final.env(runtime_only=True)]
    text = render_template(
        "apptainer.def.j2", stages=stages, environment=environment, workdir=workdir,
        command=" ".join(shlex.quote(a) for a in recipe.command),
        labels=list(recipe.labels.items()), image_name=plan.name,
    )
    return {DEF_FILE: text}


def bootstrap(image: str) -> tuple[str, str]:
    """(Bootstrap agent, From) for a base: a local .sif or sandbox folder, or a registry."""
    if image.endswith(".sif") or os.path.isdir(image):
        return "localimage", image
    return "docker", image


def _stage(stage: Stage, multi: bool) -> dict:
    agent, source = bootstrap(stage.image)
    files: dict[str, list[str]] = {}
    for step in stage.steps:
        if isinstance(step, Copy):
            files.setdefault(step.from_stage or "", []).append(f"{step.src} {step.dest}")
    return {"bootstrap": agent, "image": source, "name": stage.name if multi else "",
            "files": sorted(files.items()), "post": _post(stage)}


def _post(stage: Stage) -> list[str]:
    """Exports for every Env of the stage (ENV applies to later RUNs in Docker), then the
    commands, one a line (%post stops at the first failure: `set -e`)."""
    exports = [f"export {k}={quote(v)}" for step in stage.steps if isinstance(step, Env)
               for k, v in step.values]
    commands = []
    for step in stage.steps:
        if isinstance(step, Run):
            commands += ([f"# {step.comment}"] if step.comment else []) + list(step.commands)
    return exports + commands if commands else []
