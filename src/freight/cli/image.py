"""`freight image plan|render`: the image a workload needs (freight.image), as a plan or
as build files. `image_app` is the `freight image` group: build, export and push add their
commands to it (`@image_app.command()`)."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table
from rich.text import Text

from freight.cli.app import app, err, out, print_json, warn

image_app = typer.Typer(help="Container images: plan, render, build, export, push.",
                        no_args_is_help=True)
app.add_typer(image_app, name="image")


class DepsMode(str, Enum):
    image = "image"
    outside = "outside"


class Format(str, Enum):
    docker = "docker"
    apptainer = "apptainer"
    charliecloud = "charliecloud"


PATH_ARG = typer.Argument(Path("."), help="A script (.py), a notebook (.ipynb) or a project folder.")
BASE_OPT = typer.Option(None, "--base", help="Build on this image (always wins over the choice).")
BAKE_OPT = typer.Option(False, "--bake/--no-bake", help="Copy the code into the image "
                        "(default: bind it at run time, no rebuild per change).")
DEPS_OPT = typer.Option(DepsMode.image, "--deps", help="image: packages in the image; outside: "
                        "the image has only the OS and Python, a uv env is bound in.")
PYTHON_OPT = typer.Option(None, "--python", help="Python version, e.g. 3.11 (default: the "
                          "project's .python-version / requires-python, else the base's).")
LOCK_OPT = typer.Option(True, "--lock/--no-lock", help="Lock the requirements with uv "
                        "(exact versions + hashes; needs the package index).")


def _plan(path: Path, base, bake: bool, deps: DepsMode, python, lock: bool):
    from freight.image.plan import make_plan

    plan = make_plan(path, base=base, bake=bake, deps=deps.value, python=python, lock=lock)
    for message in plan.warnings:
        warn(message)
    return plan


@image_app.command("plan")
def plan_command(path: Path = PATH_ARG, base: Optional[str] = BASE_OPT, bake: bool = BAKE_OPT,
                 deps: DepsMode = DEPS_OPT, python: Optional[str] = PYTHON_OPT,
                 lock: bool = LOCK_OPT,
                 as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON.")
                 ) -> None:
    """The image the workload needs: base and why, Python, requirements, system packages,
    and the content hash that tags it (same inputs, same tag: no rebuild)."""
    plan = _plan(path, base, bake, deps, python, lock)
    if as_json:
        print_json(json.dumps(plan.to_json(), indent=2))
        return
    out.print(plan_table(plan))
    for item in plan.left_out:
        err.print(f"left out of the image: {item}", markup=False, highlight=False)


def plan_table(plan) -> Table:
    """The plan as rows of (what, value)."""
    table = Table("", "", box=None, pad_edge=False, show_header=False)
    requirements = plan.requirements or ["(none)"]
    locked = "locked with hashes (uv)" if plan.locked is not None else "not locked"
    rows = [
        ("image", plan.ref), ("base", plan.base.image), ("why", plan.base.reason),
        ("python", f"{plan.python} ({plan.python_source})"),
        ("requirements", f"{len(plan.requirements)}, {locked}"),
        *(("", line) for line in requirements),
        ("system packages", ", ".join(plan.system_packages) or "(none)"),
        ("build packages", ", ".join(plan.build_packages) or "(none)"),
        ("code", f"baked into {len(plan.files)} files" if plan.bake else "bound at run time"),
        ("deps", plan.deps),
        ("package", "installed editable at task start" if plan.package else "no"),
        ("hash", plan.content_hash),
    ]
    for name, value in rows:
        table.add_row(Text(name, style="bold"), Text(value, overflow="fold"))
    return table


@image_app.command("render")
def render_command(path: Path = PATH_ARG,
                   fmt: Format = typer.Option(Format.docker, "--format", "-f",
                                              help="docker, apptainer or charliecloud."),
                   output: Optional[Path] = typer.Option(
                       None, "-o", "--output",
                       help="Write the build folder here (the whole build context); "
                            "default: print the recipe."),
                   base: Optional[str] = BASE_OPT, bake: bool = BAKE_OPT,
                   deps: DepsMode = DEPS_OPT, python: Optional[str] = PYTHON_OPT,
                   lock: bool = LOCK_OPT) -> None:
    """Write the Dockerfile, Apptainer definition or Charliecloud build for the workload."""
    from freight.image.render import RECIPE_FILES, render, write_context

    plan = _plan(path, base, bake, deps, python, lock)
    if output is None:
        out.file.write(render(plan, fmt.value)[RECIPE_FILES[fmt.value]])
        out.file.flush()
        return
    left_out = write_context(plan, output, fmt.value)
    for item in left_out:
        err.print(f"left out of the image: {item}", markup=False, highlight=False)
    err.print(f"wrote {output} ({plan.ref})", markup=False, highlight=False)
