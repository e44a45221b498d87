"""Rendering an ImagePlan: `render(plan, fmt)` gives the build files as {name: text};
`write_context(plan, dest, fmt)` writes them, this machine's uv executable (the builder
stage copies it: the base needs no pip) and, with --bake, the filtered code into a build
folder that is the whole build context (so nothing else can be sent to a builder).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from freight.errors import ConfigError, InputError
from freight.image import blocks
from freight.image.plan import ImagePlan
from freight.image.lock import uv_bin
from freight.image.recipe import build_recipe
from freight.image.steps import Copy

FORMATS = ("docker", "apptainer", "charliecloud")
RECIPE_FILES = {"docker": "Dockerfile", "apptainer": "freight.def", "charliecloud": "Dockerfile"}


def render(plan: ImagePlan, fmt: str) -> dict[str, str]:
    """File name -> text: the recipe, its requirements or conda file, and extras."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown image format {fmt!r}", fix=f"use one of {', '.join(FORMATS)}")
    from freight.image.render import apptainer, charliecloud, docker

    module = {"docker": docker, "apptainer": apptainer, "charliecloud": charliecloud}[fmt]
    files = module.render(build_recipe(plan), plan)
    files.update(_inputs(plan))
    return files


def needs_uv(plan: ImagePlan) -> bool:
    """Whether the recipe copies uv from the build context."""
    return any(isinstance(step, Copy) and step.src == blocks.UV_FILE and not step.from_stage
               for stage in build_recipe(plan).stages for step in stage.steps)


def _inputs(plan: ImagePlan) -> dict[str, str]:
    """The requirements and conda files the recipe copies in."""
    files = {}
    if plan.requirements and plan.deps == "image" and not plan.uses_conda:
        files[plan.requirements_file] = plan.requirements_text()
    if plan.uses_conda and plan.deps == "image":
        text = (Path(plan.root) / plan.conda_file).read_text(encoding="utf-8")
        files[blocks.conda_context_name(plan)] = text
    return files


def write_context(plan: ImagePlan, dest: Path | str, fmt: str = "docker") -> list[str]:
    """Write the build folder `dest` (created; must be empty if it exists). Returns what
    was left out of the baked code, "path (reason)" each (empty unless --bake)."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InputError("the build folder is not empty" if dest.is_dir() else "not a folder",
                         fix="give a new or empty folder", path=dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the build folder ({exc.strerror})",
                         fix="give a folder in a writable place", path=dest) from None
    for name, text in render(plan, fmt).items():
        (dest / name).write_text(text, encoding="utf-8")
    if needs_uv(plan):
        shutil.copy2(uv_bin(), dest / blocks.UV_FILE)
    if plan.bake:
        _copy_code(plan, dest / "code")
    return list(plan.left_out)


def _copy_code(plan: ImagePlan, code: Path) -> None:
    root = Path(plan.root)
    code.mkdir()
    for rel in plan.files:
        target = code / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target, follow_symlinks=True)
