"""`freight image build|export|push`: on H1's `freight image` group (cli/image.py). Parsing and
printing only; the work is in freight.image.build, .export and .push."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from freight.cli import image_remote
from freight.cli.app import err, out
from freight.cli.image import (
    BAKE_OPT,
    BASE_OPT,
    DEPS_OPT,
    PATH_ARG,
    PYTHON_OPT,
    DepsMode,
    _plan,
    image_app,
)


class BuildEngine(str, Enum):
    docker = "docker"
    podman = "podman"
    buildah = "buildah"
    apptainer = "apptainer"
    charliecloud = "charliecloud"


class ExportFormat(str, Enum):
    sif = "sif"
    squashfs = "squashfs"
    tar = "tar"
    dir = "dir"


ENGINE_OPT = typer.Option(None, "--engine", "-e", help="docker, podman, buildah, apptainer or charliecloud "
                          "(default: the first of these this machine has).")


@image_app.command("build")
def build_command(path: Path = PATH_ARG, engine: BuildEngine | None = ENGINE_OPT,
                  base: str | None = BASE_OPT, bake: bool = BAKE_OPT, deps: DepsMode = DEPS_OPT,
                  python: str | None = PYTHON_OPT,
                  force: bool = typer.Option(False, "--force", help="Build even if the image exists."),
                  profile: str | None = image_remote.PROFILE_OPT, remote: str | None = image_remote.REMOTE_OPT,
                  registry: str | None = image_remote.REGISTRY_OPT,
                  render_only: Path | None = image_remote.RENDER_ONLY_OPT,
                  dry_run: bool = image_remote.DRY_RUN_OPT, disk: str | None = image_remote.DISK_OPT) -> None:
    """Build the workload's image (nothing to do when an unchanged project was built before):
    prints the image reference the engine runs. With a profile whose target is htcondor (chtc)
    or --remote htcondor: submits an HTCondor build job instead."""
    from freight.image.build import build_image, plan_tag, progress
    from freight.image.remote_build import where_to_build

    where = where_to_build(path, profile, remote)
    if engine and not where.remote:  # a missing engine is said before planning: locking takes a while
        from freight.image.builders import pick_builder

        pick_builder(engine.value)
    plan = _plan(path, base, bake, deps, python, True)
    if where.remote:
        image_remote.build_remotely(plan, where, engine.value if engine else None, registry, render_only,
                                    dry_run, disk)
        return
    with progress(f"building {plan_tag(plan)}") as hook:
        built = build_image(plan, engine.value if engine else None, on_line=hook, force=force)
    for item in plan.left_out:
        err.print(f"left out of the image: {item}", markup=False, highlight=False)
    if built.built:
        err.print(f"built {built.tag} with {built.builder} (log: {built.log})", markup=False, highlight=False)
    else:
        err.print(f"{built.tag} is up to date in {built.builder}: nothing to build", markup=False, highlight=False)
    out.print(built.ref, markup=False, highlight=False)


@image_app.command("export")
def export_command(ref: str = typer.Argument(..., help="An image tag (docker/podman) or a directory image."),
                   to: ExportFormat = typer.Option(..., "--to", help="sif, squashfs, tar or dir."),
                   output: Path | None = typer.Option(None, "-o", "--out", help="Where to write it "
                                                         "(default: ./NAME-TAG.EXT)."),
                   engine: str | None = typer.Option(None, "--engine", help="docker or podman: whose store "
                                                        "holds REF (default: whichever has it).")) -> None:
    """Write an image as a SIF, SquashFS, tar archive or directory: prints the path."""
    from freight.image.export import export_image

    with err.status(f"exporting {ref} to {to.value}"):
        written = export_image(ref, to.value, output, engine)
    out.print(str(written), markup=False, highlight=False)


@image_app.command("push")
def push_command(ref: str = typer.Argument(..., help="An image tag in docker's or podman's store."),
                 registry: str = typer.Option(..., "--registry", help="docker.io/USER, ghcr.io/ORG or "
                                              "nvcr.io/ORG/TEAM."),
                 engine: str | None = typer.Option(None, "--engine", help="docker or podman (default: "
                                                      "whichever has REF).")) -> None:
    """Push an image with the engine's own login (run `docker login` / `podman login` first;
    freight never handles a password): prints the name pushed."""
    from freight.image.push import push_image

    with err.status(f"pushing {ref} to {registry}"):
        pushed = push_image(ref, registry, engine)
    out.print(pushed, markup=False, highlight=False)
