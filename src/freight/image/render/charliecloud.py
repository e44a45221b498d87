"""Charliecloud: `ch-image build` reads a Dockerfile (its dialect: no BuildKit features
such as `RUN --mount`, which freight's Dockerfile never uses), and `ch-run` does not apply
ENV at run time, so the runtime environment also goes to an env file for
`ch-run --set-env=freight.env`. ch-image 0.31 ignores LABEL and CMD (with a warning):
they are left out; the content hash is in the tag. The env file has no comments: ch-run
reads every line as NAME=VALUE (and expands $NAME in values)."""

from __future__ import annotations

from freight.image.plan import ImagePlan
from freight.image.render import docker
from freight.image.render.templates import render_template
from freight.image.steps import Recipe

ENV_FILE = "freight.env"
INTRO = "Build: ch-image build -t {ref} -f Dockerfile .  Run: ch-run --set-env=freight.env"


def render(recipe: Recipe, plan: ImagePlan) -> dict[str, str]:
    return {"Dockerfile": docker.dockerfile(recipe, plan, INTRO, metadata=False), ENV_FILE: env_file(recipe)}


def env_file(recipe: Recipe) -> str:
    env = recipe.final.env(runtime_only=True)
    for name, value in env:
        if "\n" in value:
            raise ValueError(f"env {name} has a newline, which an env file cannot hold")
    return render_template("charliecloud.env.j2", env=env)
