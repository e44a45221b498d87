"""A plan's stages, from the building blocks: what every output format renders.

- a Python base (python:slim, nvidia/cuda, --base): a builder stage (Python, uv, build
  packages, the venv) and a runtime stage that gets only the venv (multi-stage: compilers
  and uv's cache never reach the image);
- an NGC base: one stage, packages added to its own Python under its constraints;
- a conda base: one stage, the environment installed by micromamba or conda;
- deps "outside": one stage with the OS and Python only (the environment is bound in).
"""

from __future__ import annotations

from freight.image import blocks
from freight.image.plan import ImagePlan
from freight.image.steps import Recipe, Stage, Step

BUILDER, RUNTIME, IMAGE = "builder", "runtime", "image"


def build_recipe(plan: ImagePlan) -> Recipe:
    if plan.deps == "outside":
        stages = [Stage(IMAGE, plan.base.image, _outside(plan))]
    elif plan.base.kind == "conda":
        stages = [Stage(IMAGE, plan.base.image, blocks.conda_env(plan) + _finish(plan))]
    elif plan.base.kind == "ngc":
        stages = [Stage(IMAGE, plan.base.image, _ngc(plan))]
    else:
        stages = [Stage(BUILDER, plan.base.image, _builder(plan)),
                  Stage(RUNTIME, plan.base.image, _runtime(plan))]
    return Recipe(stages, labels(plan), (plan.python_bin,))


def _builder(plan: ImagePlan) -> list[Step]:
    return (blocks.python_interpreter(plan.base.python_present)
            + blocks.system_packages(plan.build_packages, "to build packages")
            + blocks.uv_tool() + blocks.python_env(plan))


def _runtime(plan: ImagePlan) -> list[Step]:
    return (blocks.python_interpreter(plan.base.python_present)
            + blocks.system_packages(plan.system_packages, "libraries packages load")
            + blocks.copy_env_from(BUILDER, plan) + _finish(plan))


def _ngc(plan: ImagePlan) -> list[Step]:
    return (blocks.system_packages(plan.system_packages + plan.build_packages, "libraries")
            + blocks.ngc_packages(plan) + _finish(plan))


def _outside(plan: ImagePlan) -> list[Step]:
    return (blocks.python_interpreter(plan.base.python_present)
            + blocks.system_packages(plan.system_packages, "libraries packages load")
            + _finish(plan))


def _finish(plan: ImagePlan) -> list[Step]:
    return blocks.runtime_env(plan) + blocks.baked_code(plan)


def labels(plan: ImagePlan) -> dict[str, str]:
    return {
        "org.opencontainers.image.title": plan.name,
        "io.freight.content-hash": plan.content_hash,
        "io.freight.base": plan.base.image,
        "io.freight.python": plan.python,
    }
